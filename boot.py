"""Runs first on a board (Wi-Fi, clock, watchdog); nothing to do on a PC.

The board side arrives with the ESP32 issue; on CPython this file is a no-op
so `python3 boot.py` is harmless.
"""
