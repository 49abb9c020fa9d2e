# ruff: noqa: F821  (package is given by MicroPython's build)
# sunshift as a board runs it, for a MicroPython manifest: the base modules at
# the top of the package and the board folders, whatever the site (never host/
# and cpython/: the command line, the simulator and the CPython backends).
# Frozen, it sits in flash, not in the heap, so the image runs any config (a
# copied deploy holds only what its config's devices need).
# tests/host/test_deploy.py checks that this and tools/board_files.py (and
# `deploy.py --all-modules`) name the same modules. opt=0 keeps line numbers,
# so a traceback in the crash log names its line. Included by manifest.py here
# and by tools/proxy/manifest.py; MicroPython's build runs it from this folder.
import os

BOARD_FOLDERS = ("lang", "core", "net", "devices", "site", "board")
BASE = sorted(name for name in os.listdir("../lib/sunshift") if name.endswith(".py"))
package("sunshift", files=BASE, base_path="../lib", opt=0)
for folder in BOARD_FOLDERS:
    package("sunshift/" + folder, base_path="../lib", opt=0)
