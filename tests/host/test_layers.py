"""The package's layers (docs/architecture.md): every import points down, and
the check that says so (tools/layers.py) catches what it should."""

import os
import shutil

import layers


def test_the_package_imports_only_downwards_and_has_no_cycle():
    assert layers.problems() == []


def test_the_check_sees_the_whole_package():
    # Not a check that passes for want of looking: it resolves the real imports.
    graph = {}
    for module in layers.board_files.package_modules(layers.PACKAGE):
        graph[module] = [name for name, _ in layers.board_files.imports_of(layers.PACKAGE, module)]
    assert "lang/lexer" in graph["lang/syntax"] and "core/engine" in graph["site/runner"]
    assert sum(len(names) for names in graph.values()) > 150


def broken(tmp_path, module, line, at_end=True):
    """A copy of the package with ``line`` added to ``module``; its problems."""
    copy = tmp_path / "sunshift"
    shutil.copytree(layers.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    path = copy / (module + ".py")
    text = path.read_text()
    path.write_text(text + "\n" + line + "\n" if at_end else line + "\n" + text)
    return layers.problems(str(copy))


def test_an_import_against_the_direction_fails(tmp_path):
    found = broken(tmp_path, "lang/nodes", "from ..core import engine  # noqa")
    assert found[0] == "lib/sunshift/lang/nodes.py: imports core/engine, but lang may import only base, lang (docs/architecture.md)"
    # and, as the engine reads the nodes, the loop it closes
    assert "import cycle: core/engine -> lang/nodes -> core/engine" in found


def test_an_import_of_the_host_from_a_board_folder_fails(tmp_path):
    found = broken(tmp_path, "site/runner", "def f():\n    from ..host import cli  # noqa")
    wanted = "lib/sunshift/site/runner.py: imports host/cli (inside a function), but site may import only base, lang, core, net, devices, site"
    wanted += " (docs/architecture.md)"
    # host/cli reaches the runner through `run` (cli_site).
    assert found[0] == wanted and found[1:] == ["import cycle: site/runner -> host/cli -> host/cli_site -> site/runner"]


def test_a_cycle_fails(tmp_path):
    found = broken(tmp_path, "lang/lexer", "from . import syntax  # noqa")
    assert found == ["import cycle: lang/syntax -> lang/lexer -> lang/syntax"]


def test_naming_a_cpython_backend_outside_port_fails(tmp_path):
    found = broken(tmp_path, "site/mqtt", 'BACKEND = "sunshift.cpython.mqtt"')
    assert len(found) == 1 and "lib/sunshift/site/mqtt.py:" in found[0] and "'sunshift.cpython.mqtt'" in found[0]


def test_an_absolute_import_inside_the_package_fails(tmp_path):
    found = broken(tmp_path, "devices/envoy", "from sunshift.site import config  # noqa")
    assert len(found) == 1 and "from sunshift.site import ..." in found[0]


def test_the_layers_are_the_folders():
    folders = sorted(n for n in os.listdir(layers.PACKAGE) if os.path.isdir(os.path.join(layers.PACKAGE, n)) and n != "__pycache__")
    assert folders == sorted(name for name in layers.ALLOWED if name != "base")
    assert sorted(layers.board_files.BOARD_FOLDERS + layers.board_files.HOST_FOLDERS) == folders
