"""Envoy benchmark: parsing /production.json?details=1, its time and its memory.

    python3 tools/bench_envoy.py                  # CPython
    node tools/mprun.mjs tools/bench_envoy.py     # MicroPython (WebAssembly build)

The body is the largest production.json of the corpus (8.3.5167_3rd-pv,
three phases with lines).  On MicroPython the heap figures come from the
runner's MEASURE steps (see tools/mprun.mjs): what each step leaves held.
"Allocated while parsing" is measured with the collector off, so it counts
every byte the parse asks for, garbage included: an upper bound of its peak.
"""

import gc
import sys

for folder in ("lib", "tests/portable", "/lib", "/tests/portable"):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from replay import ReplaySession, corpus  # noqa: E402

from sunshift import jsonpick, port  # noqa: E402
from sunshift.devices import envoy  # noqa: E402

VARIANT = "8.3.5167_3rd-pv"
BODY = corpus.read(VARIANT, "production.json")
KEEP = envoy._REPORT_KEYS
HELD = {}


def hold_body():
    """The answer's bytes, as a board holds them after reading the socket."""
    HELD["body"] = bytes(bytearray(BODY))
    return HELD["body"]


def hold_parsed():
    """What the reader keeps of it."""
    return jsonpick.loads(HELD["body"], KEEP)


def hold_reader():
    """A probed reader after one poll: its plan and the figures."""
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=ReplaySession(VARIANT))
    return reader, reader.poll()


MEASURE = [
    ("micropython: heap held by the body (%d bytes)" % len(BODY), hold_body),
    ("micropython: heap held by its parsed figures", hold_parsed),
    ("micropython: heap held by a probed reader and one reading", hold_reader),
]


def main():
    name = sys.implementation.name
    runs = 50
    start = port.ticks_us()
    for _ in range(runs):
        jsonpick.loads(BODY, KEEP)
    print("%s: parse %s production.json (%d bytes): %d us" % (name, VARIANT, len(BODY), port.ticks_diff(port.ticks_us(), start) // runs))
    if hasattr(gc, "mem_alloc"):
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        jsonpick.loads(BODY, KEEP)
        allocated = gc.mem_alloc() - before
        gc.enable()
        print("%s: allocated while parsing (upper bound of the peak): %d bytes" % (name, allocated))
    else:
        import tracemalloc

        tracemalloc.start()
        jsonpick.loads(BODY, KEEP)
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print("%s: parse peak %d bytes, held after %d bytes (tracemalloc)" % (name, peak, current))
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=ReplaySession(VARIANT))
    reader.poll()
    start = port.ticks_us()
    for _ in range(runs):
        reader.poll()
    print("%s: one reading (parse and figures, no network): %d us" % (name, port.ticks_diff(port.ticks_us(), start) // runs))


main()
