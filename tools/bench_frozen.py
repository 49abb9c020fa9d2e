"""The heap the board's code holds once imported, frozen as on an ESP32 image.

    bash tools/proxy/build.sh MICROPYTHON_SOURCE        # once: the 32-bit stand-in
    build/proxy/micropython tools/bench_frozen.py       # run from the repository root

Run in the stand-in of tools/proxy/build.sh (sunshift frozen in): it checks
that the package comes from the frozen image, then prints gc.mem_alloc()
around importing what a board with the bench site (Envoy, evcc and EMS-ESP
over REST) imports at start, module by module.  Frozen bytecode and constants
stay in flash; what shows here is the modules' objects, their global
dictionaries and the function and class objects made at import.
"""

import gc
import sys

# What the board imports for the bench site, in the order it does.
MODULES = (
    "sunshift.board.supervisor",
    "sunshift.net.http",
    "sunshift.devices.envoy",
    "sunshift.devices.evcc",
    "sunshift.devices.emsesp",
)

sys.path[:] = [".frozen"]  # never a copy of the package from the file system
gc.collect()
start = gc.mem_alloc()
before = start
for name in MODULES:
    __import__(name)
    gc.collect()
    now = gc.mem_alloc()
    print("%-28s %6d bytes (with what it imports)" % (name, now - before))
    before = now
modules = sorted(m for m in sys.modules if m == "sunshift" or m.startswith("sunshift."))
frozen = getattr(sys.modules["sunshift.port"], "__file__", "").startswith("sunshift/")
print("frozen imports: %d bytes held, %d modules (%s)" % (before - start, len(modules), "frozen" if frozen else "NOT FROZEN"))
