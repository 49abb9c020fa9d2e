"""Which modules of lib/sunshift go onto a board, and where files land there.

One list for tools/deploy.py (which copies them as .mpy) and firmware/manifest.py
(which freezes them); tests/host/test_deploy.py keeps the manifest in step.
"""

import os

# Modules that never run on a board, left out of the deploy and of the firmware
# image. The CPython backends import http.client, ssl and paho; the others build
# the days, figures and pictures of `sim`, `scenario` and `demo` on a PC. A
# board's main.py runs sunshift.device (app, config, parser, port), never the
# command line: cli and the `sim` it drives (sim, trace) stay here too, 15 KB
# of .mpy (docs/benchmarks.md, "Memory on the board").
HOST_ONLY_SUFFIX = "_cpython.py"
HOST_ONLY = ("cli.py", "plot.py", "record.py", "runs.py", "scenarios.py", "sim.py", "summary.py", "trace.py")

# Where things go on the board (MicroPython puts /lib on sys.path).
BOARD_PACKAGE = "/lib/sunshift"
BOARD_RULES = "/rules"
BOARD_CONFIG = "/config.json"
BOARD_SECRETS = "/secrets.json"
BOARD_ROOT = "/"

# micropython-lib packages the MicroPython backends import (mqtt_micropython,
# http_micropython), installed with `mpremote mip install` or frozen.
BOARD_LIBRARIES = ("umqtt.simple", "requests")


def is_host_only(name):
    """True for a module file of lib/sunshift that stays on the host."""
    return name.endswith(HOST_ONLY_SUFFIX) or name in HOST_ONLY


def board_modules(package_dir):
    """The sorted .py file names in ``package_dir`` that run on a board."""
    return sorted(name for name in os.listdir(package_dir) if name.endswith(".py") and not is_host_only(name))
