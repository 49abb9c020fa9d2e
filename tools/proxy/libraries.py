# ruff: noqa: F821  (require is given by MicroPython's build)
# The micropython-lib packages the board's transports import, frozen as the
# ESP32 image has them: the stand-in's images, with and without sunshift, get
# the same ones. Only umqtt.simple (net/mqtt), which brings micropython-lib's
# `ssl` along (its manifest requires it; sunshift does not import it): net/http
# runs on the C modules `socket` and `tls`, which the stand-in's build has
# (build.sh checks `tls`). The ESP32 image also freezes `requests`; sunshift
# does not import it, and a frozen module nobody imports takes no heap, so it
# is left out here.
require("umqtt.simple")
