"""The board's network transports (HTTP and MQTT on micropython-lib), their connection state and backoff.  Imports only the base."""
