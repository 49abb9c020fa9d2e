# ruff: noqa: F821  (include, require and package are given by MicroPython's build)
# A MicroPython ESP32 image with sunshift frozen in, with the micropython-lib
# package its MicroPython backends import. Build it from MicroPython's
# ports/esp32 (firmware/README.md has every step):
#
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/sunshift/firmware/manifest.py
#
# MicroPython's build executes this file; relative paths are relative to it.

# The port's own manifest: the modules every ESP32 image has (_boot.py,
# inisetup.py, asyncio, the networking bundle...).
include("$(PORT_DIR)/boards/manifest.py")

# What the board's transports (sunshift/net) import from micropython-lib:
# umqtt.simple (net/mqtt). MicroPython's ESP32 manifest already pulls it in;
# naming it keeps this image right if that changes. net/http is sunshift's own
# client on the C modules `socket` and `tls`, which every ESP32 image of
# MicroPython 1.23 or newer has (before 1.23 the C module was named `ssl`, and
# net/http falls back to it): HTTPS needs nothing from micropython-lib, not
# even its `ssl` wrapper over `tls`. The image still holds `requests` (the
# port's bundle-networking) and `ssl` (umqtt.simple's own manifest requires
# it); sunshift imports neither, and a frozen module nobody imports takes
# flash, not heap.
require("umqtt.simple")

# sunshift as a board runs it (package.py, which the 32-bit stand-in for a
# board in tools/proxy/ freezes too).
include("package.py")
