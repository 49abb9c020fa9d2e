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

# What mqtt_micropython and http_micropython import. MicroPython's ESP32
# manifest already pulls both in (umqtt.simple, and requests through
# bundle-networking); naming them keeps this image right if that changes.
require("umqtt.simple")
require("requests")

# sunshift as a board runs it: the base modules at the top of the package and
# the board folders, whatever the site (never host/ and cpython/: the command
# line, the simulator and the CPython backends). Frozen, it sits in flash, not in
# the heap, so the image runs any config (a copied deploy holds only what its
# config's devices need). tests/host/test_deploy.py checks that this and
# tools/board_files.py (and `deploy.py --all-modules`) name the same modules.
# opt=0 keeps line numbers, so a traceback in the crash log names its line.
# MicroPython's build runs this file from its own folder (firmware/).
import os  # noqa: E402

BOARD_FOLDERS = ("lang", "core", "net", "devices", "site", "board")
BASE = sorted(name for name in os.listdir("../lib/sunshift") if name.endswith(".py"))
package("sunshift", files=BASE, base_path="../lib", opt=0)
for folder in BOARD_FOLDERS:
    package("sunshift/" + folder, base_path="../lib", opt=0)
