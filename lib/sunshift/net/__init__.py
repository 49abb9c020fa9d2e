"""The board's network transports (HTTP on the socket and tls modules, MQTT on
micropython-lib's umqtt.simple), their connection state and backoff.  Imports only the base."""
