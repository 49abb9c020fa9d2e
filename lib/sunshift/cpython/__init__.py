"""The CPython backends (ticks, HTTP, MQTT).  Never deployed; port loads them by name."""
