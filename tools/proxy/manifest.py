# ruff: noqa: F821  (include and require are given by MicroPython's build)
# The manifest of the 32-bit unix MicroPython that stands in for an ESP32 on a
# PC (tools/proxy/build.sh; ../shared/BOARD.md): sunshift frozen as the ESP32
# image freezes it, with the micropython-lib package the board's transports
# import (libraries.py). The unix port has no boards/manifest.py to include,
# and its own variant manifest needs unix-ffi, so this one stands alone.
include("libraries.py")
include("../../firmware/package.py")
