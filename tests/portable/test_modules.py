"""Every module of the package imports on this interpreter (but the CPython backends on a board)."""

from sunshift import port
from support import ROOT

# The folders of lib/sunshift; the top-level modules are the base (docs/architecture.md).
FOLDERS = ("lang", "core", "net", "devices", "site", "board", "host", "cpython")


def modules():
    """Every module of the package, as dotted names: the base first, then folder by folder."""
    top = ROOT + "/lib/sunshift"
    found = ["sunshift." + n[:-3] for n in port.list_dir(top) if n.endswith(".py") and n != "__init__.py"]
    for folder in FOLDERS:
        found += ["sunshift.%s.%s" % (folder, n[:-3]) for n in port.list_dir(top + "/" + folder) if n.endswith(".py")]
    return found


def test_the_package_is_the_folders_of_its_layers():
    top = ROOT + "/lib/sunshift"
    assert sorted(n for n in port.list_dir(top) if port.is_dir(port.join(top, n)) and n != "__pycache__") == sorted(FOLDERS)
    for folder in FOLDERS:
        assert "__init__.py" in port.list_dir(top + "/" + folder), folder


def test_every_module_imports():
    names = modules()
    assert len(names) >= 50
    imported = 0
    for name in names:
        try:
            __import__(name)
            imported += 1
        except ImportError:
            # Only the CPython backends may be missing (on MicroPython).
            assert name.startswith("sunshift.cpython."), name
    assert imported >= len(names) - 4


def test_the_backends_declare_whether_they_work_here():
    from sunshift.net import http, mqtt

    assert http.AVAILABLE in (True, False)
    assert mqtt.AVAILABLE in (True, False)
    try:
        port.backend("http")
    except ImportError as e:
        assert "no http backend" in str(e)
