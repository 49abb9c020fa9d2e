"""A site at work: its config, the Runner, its MQTT side, the run loop.  Imports core, lang, devices and below."""
