"""sunshift: a small rule engine for a home's energy, on an ESP32 or a Raspberry Pi."""

VERSION = "0.1.0"
