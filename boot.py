"""Runs first on a board: the watchdog, Wi-Fi, the clock (docs/device.md); nothing on a PC.

On CPython (or `micropython boot.py` on a PC, which has arguments) this file
does nothing, so `python3 boot.py` is harmless.  The work is in
lib/sunshift/board/, where tests drive it with fake hardware.
"""

import sys

if sys.implementation.name == "micropython" and not sys.argv:
    try:
        from sunshift.board import supervisor
    except ImportError as e:
        print("boot: sunshift is not on this board (%s); deploy it with tools/deploy.py" % e)
    else:
        supervisor.boot()
