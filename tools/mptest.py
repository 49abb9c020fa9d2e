"""Run the portable test suites under MicroPython (through tools/mprun.mjs).

    node tools/mprun.mjs tools/mptest.py [NAME_PART]

Every `test_*` function of every tests/portable/test_*.py module runs, in name
order, then those of tests/micropython/ (MicroPython only: sunshift's board
backends over scripted sockets, MQTT on micropython-lib's umqtt.simple,
vendored in tests/vendor); a failure prints its traceback.  The runner sets `exit_code` for mprun.
"""

import gc
import os
import sys

SUITES = ["/tests/portable", "/tests/micropython"]

only = sys.argv[1] if len(sys.argv) > 1 else None
passed = 0
failed = []
for folder in SUITES:
    sys.path.insert(0, folder)
    for filename in sorted(os.listdir(folder)):
        if not (filename.startswith("test_") and filename.endswith(".py")):
            continue
        module_name = filename[:-3]
        module = __import__(module_name)
        for name in sorted(dir(module)):
            if not name.startswith("test_"):
                continue
            if only and only not in module_name + "." + name:
                continue
            fn = getattr(module, name)
            try:
                fn()
                passed += 1
            except Exception as e:  # every failure is reported, none stops the run
                failed.append(module_name + "." + name)
                print("FAIL %s.%s" % (module_name, name))
                sys.print_exception(e)
            gc.collect()

print("micropython %s: %d passed, %d failed" % (".".join(str(p) for p in sys.implementation.version[:3]), passed, len(failed)))
for name in failed:
    print("  failed: " + name)
exit_code = 1 if failed or passed == 0 else 0
