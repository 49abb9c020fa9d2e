"""Engine benchmark: time per rule evaluation and memory to hold parsed rules.

    python3 tools/bench_engine.py                    # CPython
    node tools/mprun.mjs tools/bench_engine.py       # MicroPython (WebAssembly build)

Prints one figure per line.  The 20 rules are the kind a site really has:
windowed averages, `for` timers, `until` hysteresis, lets, time windows.
"""

import sys

if "lib" not in sys.path:
    sys.path.insert(0, "lib")

from sunshift import port
from sunshift.core import engine
from sunshift.lang import ruleset

RULE_COUNT = 20
# Timed ticks; `bench_engine.py 100` runs a quick pass (the test suite does).
TICKS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000


def site_rules(count):
    """Rule text with ``count`` rules over a handful of device signals."""
    parts = [
        "let surplus = -envoy.net_consumption + evcc.loadpoints.1.chargePower\n",
        "let battery_full = evcc.site.batterySoc >= 90%\n",
    ]
    for i in range(count):
        kind = i % 4
        if kind == 0:
            parts.append(
                "rule ev_%d\n  when avg(surplus, 1m) > %dW for 2m\n  until avg(surplus, 1m) < 300W for 5m\n"
                "  then evcc.loadpoints.%d.mode = pv\n  else evcc.loadpoints.%d.mode = off\n  hold 10m\n  during 07:00-21:00\n"
                % (i, 1400 + i * 10, i + 1, i + 1)
            )
        elif kind == 1:
            parts.append(
                "rule water_%d\n  when surplus > 2.5kW for 5m and emsesp.boiler.dhw.curtemp < 55\n"
                "  until surplus < 1kW for 10m or emsesp.boiler.dhw.curtemp >= 60\n"
                "  then emsesp.boiler.dhw%d.seltemp = 60\n  else emsesp.boiler.dhw%d.seltemp = 50\n  hold 20m\n" % (i, i, i)
            )
        elif kind == 2:
            parts.append(
                "rule battery_%d\n  when battery_full and max(surplus, 5m) > 3kW\n  until evcc.site.batterySoc < 80%%\n"
                "  then evcc.site.prioritySoc%d = 80\n  else evcc.site.prioritySoc%d = 30\n  during 14:00-20:00\n" % (i, i, i)
            )
        else:
            parts.append(
                "rule heat_%d\n  when emsesp.thermostat.hc1.currtemp < 20 and not evcc.loadpoints.1.charging\n"
                "  then emsesp.thermostat.hc%d.seltemp = 21\n  else emsesp.thermostat.hc%d.seltemp = 19\n  priority %d\n" % (i, i, i, i)
            )
    return "".join(parts)


def feed(eng, t):
    sun = 2500 if (t // 300) % 2 else 800  # clouds every 5 minutes
    eng.update("envoy.net_consumption", -sun, t)
    eng.update("evcc.loadpoints.1.chargePower", 0, t)
    eng.update("evcc.loadpoints.1.charging", False, t)
    eng.update("evcc.site.batterySoc", 85 + (t // 600) % 10, t)
    eng.update("emsesp.boiler.dhw.curtemp", 50, t)
    eng.update("emsesp.thermostat.hc1.currtemp", 19.5, t)


TEXT = site_rules(RULE_COUNT)
HELD = {}


def hold_parsed_rules():
    """Parse the rules and keep them: what a board holds for the rule set."""
    HELD["rules"] = ruleset.compile_sources([("bench.rules", TEXT)])
    return HELD["rules"]


def hold_engine_state():
    """An engine for the kept rules, after one tick: timers, states, window histories."""
    eng = engine.Engine(HELD["rules"])
    feed(eng, 0)
    eng.tick(0, 12 * 3600)
    return eng


# On MicroPython, tools/mprun.mjs runs these steps between collections and
# prints what each one holds (see the note in mprun.mjs).
MEASURE = [
    ("micropython: heap for %d parsed rules" % RULE_COUNT, hold_parsed_rules),
    ("micropython: heap for the engine's state after one tick", hold_engine_state),
]


def cpython_memory():
    import tracemalloc

    for label, step in MEASURE:
        tracemalloc.start()
        kept = step()
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        print("%s: %d bytes held (tracemalloc)" % (label.replace("micropython", "cpython").replace("heap", "memory"), size))
        del kept


def main():
    interpreter = sys.implementation.name
    if interpreter != "micropython":
        cpython_memory()
    start = port.ticks_us()
    for _ in range(20):
        ruleset.compile_sources([("bench.rules", TEXT)])
    parse_us = port.ticks_diff(port.ticks_us(), start) / 20
    print("%s: parse %d rules: %d us" % (interpreter, RULE_COUNT, parse_us))

    eng = engine.Engine(ruleset.compile_sources([("bench.rules", TEXT)]))
    # Warm up the windows, then time ticks.  Feeding samples is outside the clock.
    t = 0
    while t < 600:
        feed(eng, t)
        eng.tick(t, (12 * 3600 + t) % 86400)
        t += 1
    elapsed = 0
    for _ in range(TICKS):
        feed(eng, t)
        start = port.ticks_us()
        eng.tick(t, (12 * 3600 + t) % 86400)
        elapsed += port.ticks_diff(port.ticks_us(), start)
        t += 1
    per_rule = elapsed / (TICKS * RULE_COUNT)
    print("%s: %.1f us per rule evaluation (%d rules, %d ticks of 1 s)" % (interpreter, per_rule, RULE_COUNT, TICKS))


main()
