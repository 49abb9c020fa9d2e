"""Which modules of lib/sunshift go onto a board, and where files land there.

What may go to a board is decided by folder (docs/architecture.md): the base
modules at the top of the package and the BOARD_FOLDERS, never HOST_FOLDERS.
A module is named by its path in the package without ".py": "errors",
"core/engine", "board/supervisor".

firmware/manifest.py freezes the board folders whole: frozen code sits in
flash, not in the heap, so the image runs any config.  A deploy copies only
what its site uses (:func:`site_modules`): what the board's entry imports at
module level, then

* for each device kind in the config, its modules from the table of kinds
  (sunshift.devices.kinds: the adapter, and its MQTT variant for a device over
  MQTT), which the runner imports by name only when a site has such a device;
* the board's HTTP backend (port.BACKENDS, loaded by name), and for a site
  with a device over MQTT the MQTT backend and the site's MQTT side
  (MQTT_SIDE), which the runner imports inside a function only then;
* the loader of compiled rules, which the board's start imports inside a
  function (START_IMPORTS);
* never the rule lexer, parser and linker: a board runs compiled rules
  (HOST_ONLY_IMPORTS);

each with what it imports at module level.  An import inside a function is
followed only by these rules: tests/host/test_deploy.py fails on one in the
board folders that they do not cover.
"""

import ast
import os

# The folders of the package that never reach a board: the command line, the
# simulator and its figures (host), the CPython backends (cpython).
HOST_FOLDERS = ("host", "cpython")
# Every other folder; firmware/manifest.py freezes these by name.
BOARD_FOLDERS = ("lang", "core", "net", "devices", "site", "board")

# Where a board starts: boot.py and main.py import sunshift.board.supervisor,
# and its start imports the loader of compiled rules inside a function (and
# forgets it after: it has no use once the rules run, and comes back for a
# reload).  The state file's snapshot code is imported the same way, for each
# save, restore and reload, and the config's schema for each check of a config.
# Forecasts (sunshift.forecast) are imported inside functions too, by what
# reads or asks one, so a site whose rules read none never holds the module.
ENTRY = ("__init__", "board/supervisor", "lang/compiled", "core/snapshot", "site/schema", "forecast")
START_IMPORTS = (
    ("board/supervisor", "lang/compiled"),
    ("site/state", "core/snapshot"),
    ("site/runner", "core/snapshot"),
    ("site/config", "site/schema"),
)
FORECAST_IMPORTS = (
    ("core/snapshot", "forecast"),
    ("devices/evcc", "forecast"),
    ("devices/evcc_mqtt", "forecast"),
    ("lang/expr", "forecast"),
    ("site/runner", "forecast"),
)
# The site's MQTT side: the runner imports it inside a function, for a site with
# a device over MQTT.
MQTT_SIDE = ("site/mqtt",)
# Imports inside functions of the board folders that never run on a board, so a
# deploy leaves their modules (and what they import) on the host: the runner
# parses rule files only when it is given none, as `run` on a PC is; a board
# gives it the rules it loaded compiled (sunshift.lang.compiled), checked
# against the site's catalog by the deploy.
HOST_ONLY_IMPORTS = (("site/runner", "lang/ruleset"), ("site/runner", "site/catalog"))

# Where things go on the board (MicroPython puts /lib on sys.path).
BOARD_PACKAGE = "/lib/sunshift"
BOARD_RULES = "/rules"  # the rule files as text, for people: a board does not parse them
BOARD_COMPILED = "/rules.compiled"  # the rules a board runs (sunshift.lang.compiled)
BOARD_CONFIG = "/config.json"
BOARD_SECRETS = "/secrets.json"
BOARD_ROOT = "/"

# micropython-lib packages the board's backends import (net/mqtt), installed
# with `mpremote mip install` or frozen.  net/http needs none: it is sunshift's
# own client on the firmware's socket and tls modules.
BOARD_LIBRARIES = ("umqtt.simple",)
# The versions `deploy --libs` installs (mip's name@version): those the backends'
# tests run on (tests/vendor/micropython-lib/README.md).
LIBRARY_VERSIONS = {"umqtt.simple": "1.8.0"}


class UnknownKind(ValueError):
    """A device kind that the table of kinds does not list; the message says what to do."""


def _kinds():
    from sunshift.devices import kinds

    return kinds


def _backend(kind):
    """The board's backend module for ``kind`` ("http" or "mqtt"), from port.BACKENDS."""
    from sunshift import port

    for name in port.BACKENDS[kind]:
        module = name[len("sunshift.") :].replace(".", "/")
        if module.split("/")[0] not in HOST_FOLDERS:
            return module
    raise ValueError("port.BACKENDS has no board backend for %s" % kind)


def folder_of(module):
    """The folder of a module ("" for the base), as in "core" for "core/engine"."""
    return module.rsplit("/", 1)[0] if "/" in module else ""


def is_host_only(module):
    """True for a module that stays on the host (its folder is a host folder)."""
    return folder_of(module) in HOST_FOLDERS


def package_modules(package_dir):
    """Every module of the package, sorted: the base, then each folder's."""
    found = []
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        rel = os.path.relpath(dirpath, package_dir)
        for name in filenames:
            if name.endswith(".py"):
                found.append(name[:-3] if rel == "." else rel.replace(os.sep, "/") + "/" + name[:-3])
    return sorted(found)


def board_modules(package_dir):
    """Every module that may run on a board, as file names ("core/engine.py")."""
    return [m + ".py" for m in package_modules(package_dir) if not is_host_only(m)]


def _resolve(package_dir, module, level, target, names):
    """The package's modules an import statement of ``module`` names."""
    base = folder_of(module).split("/") if folder_of(module) else []
    if level > 1:
        base = base[: len(base) - (level - 1)]
    parts = base + (target.split(".") if target else [])
    found = []
    stem = "/".join(parts)
    if stem and os.path.isfile(os.path.join(package_dir, stem + ".py")):
        found.append(stem)
        return found
    if stem:
        found.append(stem + "/__init__")
    for name in names:
        candidate = "/".join(parts + [name])
        if os.path.isfile(os.path.join(package_dir, candidate + ".py")):
            found.append(candidate)
    return found


def imports_of(package_dir, module):
    """The package's modules that ``module`` imports with relative imports, as
    (module, lazy) pairs: lazy when the import sits inside a function."""
    with open(os.path.join(package_dir, module + ".py"), encoding="utf-8") as f:
        tree = ast.parse(f.read(), module + ".py")
    found = []

    def walk(node, lazy):
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom) and child.level >= 1:
                for name in _resolve(package_dir, module, child.level, child.module, [alias.name for alias in child.names]):
                    if (name, lazy) not in found:
                        found.append((name, lazy))
            walk(child, inner)

    walk(tree, False)
    return found


def _closure(package_dir, start):
    """``start``, the __init__ of each folder they sit in, and every module they
    import at module level, directly or not."""
    seen = []
    todo = list(start)
    while todo:
        module = todo.pop(0)
        if module in seen:
            continue
        if not os.path.isfile(os.path.join(package_dir, module + ".py")):
            raise FileNotFoundError("lib/sunshift/%s.py, which tools/board_files.py names or another module imports, does not exist" % module)
        seen.append(module)
        if folder_of(module):
            todo.append(folder_of(module) + "/__init__")
        for name, lazy in imports_of(package_dir, module):
            if not lazy and not is_host_only(name):
                todo.append(name)
    return seen


def needs_mqtt(devices):
    """True if a device of the site (config.Site.devices) is reached over MQTT."""
    return any(spec.get("transport") == "mqtt" for spec in devices.values())


def site_modules(package_dir, devices):
    """The sorted file names ("core/engine.py") a board needs for the devices of a
    site ({name: spec with "type"}, as config.Site.devices); UnknownKind for a
    kind the table of kinds does not list."""
    kinds = _kinds()
    start = list(ENTRY) + [_backend("http")]
    for name in sorted(devices):
        kind = devices[name].get("type")
        if kind not in kinds.names():
            raise UnknownKind(
                "device %r has type %r, which sunshift.devices.kinds does not list (it lists %s): "
                "add the kind there, or deploy with --all-modules" % (name, kind, ", ".join(kinds.names()))
            )
        start += ["devices/" + m for m in kinds.modules(kind, devices[name].get("transport", "rest"))]
    if needs_mqtt(devices):
        start += [_backend("mqtt")] + list(MQTT_SIDE)
    return sorted(name + ".py" for name in _closure(package_dir, start))
