"""Which modules of lib/sunshift go onto a board, and where files land there.

One source for tools/deploy.py (which copies them as .mpy) and firmware/manifest.py
(which freezes them); tests/host/test_deploy.py keeps the manifest in step.

A deploy copies only what its site uses (:func:`site_modules`): what main.py's
sunshift.device imports, the adapters of the device kinds in the config, and
for devices over MQTT the MQTT side of the site and of their adapters.  The
image freezes every board module (:func:`board_modules`): frozen code sits in
flash, not in the heap.
"""

import ast
import os

# Modules that never run on a board, left out of the deploy and of the firmware
# image. The CPython backends import http.client, ssl and paho; the others build
# the days, figures and pictures of `sim`, `scenario` and `demo` on a PC. A
# board's main.py runs sunshift.device (app, config, parser, port), never the
# command line: cli and the `sim` it drives (sim, trace) stay here too, 15 KB
# of .mpy (docs/benchmarks.md, "Memory on the board").
HOST_ONLY_SUFFIX = "_cpython.py"
HOST_ONLY = ("cli.py", "plot.py", "record.py", "runs.py", "scenarios.py", "sim.py", "summary.py", "trace.py")

# Where a board starts: boot.py and main.py import sunshift.device, and with it
# app, config, parser, port and what they import (found by imports_of).
ENTRY = ("__init__", "device")

# Device kind (a device's "type" in the config) -> the modules app.build_adapter
# imports for it, the adapter first.  app imports each adapter inside a function,
# only for the kinds a site has, so the scan does not follow those imports: an
# adapter goes to a board only when its kind is in the config.  Modules the
# adapter itself imports are found by the scan; list here only ones it loads
# by name.  A new kind is one line.
ADAPTERS = {
    "envoy": ("envoy",),
    "evcc": ("evcc",),
    "emsesp": ("emsesp",),
    "enode": ("enode",),
}

# Device kind -> the modules app.build_adapter imports for a device of that kind
# with "transport": "mqtt" (its MQTT adapter, inside the function as above), on
# top of ADAPTERS.  A kind that is not listed has no MQTT transport.
MQTT_ADAPTERS = {
    "evcc": ("evcc_mqtt",),
    "emsesp": ("emsesp_mqtt",),
}

# Every adapter speaks HTTP (webapi); MQTT only devices with "transport": "mqtt".
# port.backend imports the transports by name, which the scan cannot see; app
# imports mqtt_site (the Runner's MQTT side) inside a function, only for a site
# with a device over MQTT, so the scan does not follow it.
HTTP_BACKEND = ("http_micropython",)
MQTT_BACKEND = ("mqtt_micropython", "mqtt_site")

# Where things go on the board (MicroPython puts /lib on sys.path).
BOARD_PACKAGE = "/lib/sunshift"
BOARD_RULES = "/rules"
BOARD_CONFIG = "/config.json"
BOARD_SECRETS = "/secrets.json"
BOARD_ROOT = "/"

# micropython-lib packages the MicroPython backends import (mqtt_micropython,
# http_micropython), installed with `mpremote mip install` or frozen.
BOARD_LIBRARIES = ("umqtt.simple", "requests")


class UnknownKind(ValueError):
    """A device kind that ADAPTERS does not list; the message says what to do."""


def is_host_only(name):
    """True for a module file of lib/sunshift that stays on the host."""
    return name.endswith(HOST_ONLY_SUFFIX) or name in HOST_ONLY


def board_modules(package_dir):
    """The sorted .py file names in ``package_dir`` that run on a board."""
    return sorted(name for name in os.listdir(package_dir) if name.endswith(".py") and not is_host_only(name))


def imports_of(package_dir, module):
    """The package's modules that ``module`` imports (``from . import x``, ``from .x import y``),
    as (name, lazy) pairs: lazy when the import sits inside a function."""
    with open(os.path.join(package_dir, module + ".py"), encoding="utf-8") as f:
        tree = ast.parse(f.read(), module + ".py")
    found = []

    def walk(node, lazy):
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom) and child.level == 1:
                names = [child.module.split(".")[0]] if child.module else [alias.name for alias in child.names]
                for name in names:
                    if (name, lazy) not in found:
                        found.append((name, lazy))
            walk(child, inner)

    walk(tree, False)
    return found


def _closure(package_dir, start):
    """``start`` and every module it imports, directly or not; a module this file
    lists for a kind or for MQTT (ADAPTERS, MQTT_ADAPTERS, MQTT_BACKEND) is not
    followed where it is imported inside a function (app's per-kind imports)."""
    listed = list(MQTT_BACKEND)
    for modules in list(ADAPTERS.values()) + list(MQTT_ADAPTERS.values()):
        listed += modules
    seen = []
    todo = list(start)
    while todo:
        module = todo.pop(0)
        if module in seen:
            continue
        if not os.path.isfile(os.path.join(package_dir, module + ".py")):
            raise FileNotFoundError("lib/sunshift/%s.py, which tools/board_files.py names or another module imports, does not exist" % module)
        seen.append(module)
        for name, lazy in imports_of(package_dir, module):
            if not (lazy and name in listed) and not is_host_only(name + ".py"):
                todo.append(name)
    return seen


def needs_mqtt(devices):
    """True if a device of the site (config.Site.devices) is reached over MQTT."""
    return any(spec.get("transport") == "mqtt" for spec in devices.values())


def site_modules(package_dir, devices):
    """The sorted .py file names a board needs for the devices of a site
    ({name: spec with "type"}, as config.Site.devices); UnknownKind for a kind
    ADAPTERS does not list."""
    start = list(ENTRY) + list(HTTP_BACKEND)
    for name in sorted(devices):
        kind = devices[name].get("type")
        if kind not in ADAPTERS:
            raise UnknownKind(
                "device %r has type %r, which tools/board_files.py does not know (it knows %s): "
                "add the modules of that kind to ADAPTERS there, or deploy with --all-modules" % (name, kind, ", ".join(sorted(ADAPTERS)))
            )
        start += ADAPTERS[kind]
        if devices[name].get("transport") == "mqtt":
            start += MQTT_ADAPTERS.get(kind, ())
    if needs_mqtt(devices):
        start += MQTT_BACKEND
    return sorted(name + ".py" for name in _closure(package_dir, start))
