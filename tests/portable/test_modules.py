"""Every module of the package imports on this interpreter (but the CPython backends on a board)."""

import os

from sunshift import port
from support import ROOT


def test_every_module_imports():
    folder = ROOT + "/lib/sunshift"
    names = sorted(n[:-3] for n in os.listdir(folder) if n.endswith(".py") and n != "__init__.py")
    assert len(names) >= 25
    imported = 0
    for name in names:
        try:
            __import__("sunshift." + name)
            imported += 1
        except ImportError:
            # Only the CPython backends may be missing (on MicroPython).
            assert name.endswith("_cpython"), name
    assert imported >= len(names) - 2


def test_the_backends_declare_whether_they_work_here():
    from sunshift import http_micropython, mqtt_micropython

    assert http_micropython.AVAILABLE in (True, False)
    assert mqtt_micropython.AVAILABLE in (True, False)
    try:
        port.backend("http")
    except ImportError as e:
        assert "no http backend" in str(e)
