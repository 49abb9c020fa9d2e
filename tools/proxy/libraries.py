# ruff: noqa: F821  (require is given by MicroPython's build)
# The micropython-lib packages a board has frozen in (the ESP32 port's own
# manifest brings them): the stand-in's images, with and without sunshift, get
# the same ones.
require("umqtt.simple")
require("requests")
require("ssl")
