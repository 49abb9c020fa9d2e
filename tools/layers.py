#!/usr/bin/env python3
"""Check that lib/sunshift imports only downwards: the layers of docs/architecture.md.

    python3 tools/layers.py          every import against the direction, every cycle; exit 1 if any

A module's layer is its folder; the modules at the top of the package are the
base.  Each layer may import the layers below it (ALLOWED); nothing imports
host/, board/ or cpython/ from outside them.  Modules inside the package import
each other only with relative imports (``from ..core import engine``); a string
that names a module of sunshift.cpython appears only in port.py, the one place
that picks the CPython backends.  Imports inside functions count as much as
those at the top: a lazy import against the direction is still one.
tests/host/test_layers.py runs this on the package and on broken copies.
"""

import ast
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(HERE), "lib", "sunshift")
sys.path.insert(0, HERE)

import board_files  # noqa: E402

# layer -> the layers its modules may import (its own included).
ALLOWED = {
    "base": ("base",),
    "lang": ("base", "lang"),
    "core": ("base", "lang", "core"),
    "net": ("base", "net"),
    "devices": ("base", "net", "devices"),
    "site": ("base", "lang", "core", "net", "devices", "site"),
    "board": ("base", "lang", "core", "net", "devices", "site", "board"),
    "host": ("base", "lang", "core", "net", "devices", "site", "host"),
    "cpython": ("base", "net", "cpython"),
}
# The one module that may name the CPython backends (it loads them by name).
BACKEND_SEAM = "port"


def layer_of(module):
    """The layer of a module ("core/engine" -> "core", "port" -> "base")."""
    return board_files.folder_of(module) or "base"


def _absolute_imports(package_dir, module):
    """(line, text) of imports of sunshift by absolute name, and of strings naming
    a sunshift.cpython module, in ``module``."""
    with open(os.path.join(package_dir, module + ".py"), encoding="utf-8") as f:
        tree = ast.parse(f.read(), module + ".py")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "sunshift" or alias.name.startswith("sunshift."):
                    found.append((node.lineno, "import %s" % alias.name))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (node.module == "sunshift" or node.module.startswith("sunshift.")):
            found.append((node.lineno, "from %s import ..." % node.module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("sunshift.cpython") and module != BACKEND_SEAM:
            found.append((node.lineno, "names %r" % node.value))
    return found


def _cycles(graph):
    """Every cycle of ``graph`` ({module: [module]}), each as a list, found once."""
    found = []
    state = {}

    def visit(module, path):
        state[module] = 1
        path.append(module)
        for name in graph.get(module, ()):
            if state.get(name) == 1:
                loop = path[path.index(name) :] + [name]
                if sorted(loop[:-1]) not in [sorted(c[:-1]) for c in found]:
                    found.append(loop)
            elif name not in state:
                visit(name, path)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return found


def problems(package_dir=PACKAGE):
    """Every import against the direction and every cycle in the package at ``package_dir``, as texts."""
    out = []
    graph = {}
    for module in board_files.package_modules(package_dir):
        where = "lib/sunshift/%s.py" % module
        mine = layer_of(module)
        graph[module] = []
        for line, text in _absolute_imports(package_dir, module):
            out.append("%s:%d: %s: inside the package, import by relative name; only port.py names the CPython backends" % (where, line, text))
        for name, lazy in board_files.imports_of(package_dir, module):
            if name.endswith("__init__"):
                continue
            graph[module].append(name)
            theirs = layer_of(name)
            if theirs not in ALLOWED[mine]:
                out.append(
                    "%s: imports %s%s, but %s may import only %s (docs/architecture.md)"
                    % (where, name, " (inside a function)" if lazy else "", mine, ", ".join(ALLOWED[mine]))
                )
    for loop in _cycles(graph):
        out.append("import cycle: %s" % " -> ".join(loop))
    return out


def main():
    found = problems()
    for text in found:
        print(text)
    print("%d problem%s in the layers of lib/sunshift" % (len(found), "" if len(found) == 1 else "s"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
