# ruff: noqa: F821  (include is given by MicroPython's build)
# The stand-in for a board with stock firmware: the libraries frozen, sunshift
# not (it runs from copied .mpy files or from source).
include("libraries.py")
