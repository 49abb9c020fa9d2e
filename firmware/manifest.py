# ruff: noqa: F821  (include, require and package are given by MicroPython's build)
# A MicroPython ESP32 image with sunshift frozen in, with the micropython-lib
# packages its MicroPython backends import. Build it from MicroPython's
# ports/esp32 (firmware/README.md has every step):
#
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/sunshift/firmware/manifest.py
#
# MicroPython's build executes this file; relative paths are relative to it.

# The port's own manifest: the modules every ESP32 image has (_boot.py,
# inisetup.py, asyncio, the networking bundle...).
include("$(PORT_DIR)/boards/manifest.py")

# What the board's transports (sunshift/net) import. MicroPython's ESP32
# manifest already pulls both in (umqtt.simple, and requests through
# bundle-networking); naming them keeps this image right if that changes.
require("umqtt.simple")
require("requests")

# sunshift as a board runs it (package.py, which the 32-bit stand-in for a
# board in tools/proxy/ freezes too).
include("package.py")
