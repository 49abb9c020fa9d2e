"""Prices benchmark: what the shipped price rules save on a dynamic-tariff day,
and what prices cost the simulator (CPython).

    python3 tools/bench_prices.py               # both days, best of 3 passes
    python3 tools/bench_prices.py --passes 1

For each of the built-in dynamic-tariff days (winter_prices, spring_prices) it
runs rules/prices/ and examples/no-prices/ (the same loads without the price
conditions) through `sim`'s closed loop, and prints the energy into the car
and the heat pump, the import cost, the export value and the net cost of
each, and the difference.

Then the simulator's speed, a day of 1-s steps (86,400 ticks), best of
``--passes``: rules/prices/ on winter_prices (prices, three cheapest() and a
12-hour average ahead) against the same three rules with their price
conditions taken out (PLAIN, below: the same clauses and comparisons of
plain signals in their place) on the same day, and the shipped rules/ on the
winter day (no prices at all).  docs/benchmarks.md has the figures.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "lib"))

from sunshift import units  # noqa: E402
from sunshift.host import runs, scenarios  # noqa: E402
from sunshift.lang import ruleset  # noqa: E402
from sunshift.site.catalog import Catalog  # noqa: E402

PRICES = os.path.join(ROOT, "rules", "prices")
FLAT = os.path.join(ROOT, "examples", "no-prices")
SHIPPED = os.path.join(ROOT, "rules")
# rules/prices/ with each price condition replaced by a plain comparison of
# the same shape: what the rules cost the engine without forecasts.
PLAIN = """
rule car_cheap
  when evcc.loadpoints.1.vehicleSoc < 79% and evcc.site.battery.soc <= 100%
       and evcc.loadpoints.1.connected and evcc.loadpoints.1.vehicleSoc < 80%
  then evcc.loadpoints.1.mode = now
  else evcc.loadpoints.1.mode = off
  during 18:00-07:00
rule water_cheap
  when (emsesp.boiler.dhw.curtemp < 45 or emsesp.boiler.dhw.curtemp < 44)
       and evcc.site.battery.soc <= 100% and emsesp.boiler.dhw.curtemp < 58
  until emsesp.boiler.dhw.curtemp >= 60 or evcc.site.battery.soc > 100%
  then emsesp.boiler.dhw.seltemp = 60
  else emsesp.boiler.dhw.seltemp = 50
rule battery_for_peak
  when evcc.loadpoints.1.charging and evcc.site.battery.soc < avg(evcc.site.battery.soc, 12h)
  then evcc.site.batteryDischargeControl = true
  else evcc.site.batteryDischargeControl = false
"""
KEYS = ("car_kwh", "heat_pump_kwh", "import_cost", "export_value", "net_cost")


def day(rules, name, step=10):
    """(figures, seconds) of one closed-loop day of ``rules`` (a folder, or rule
    text) on scenario ``name``."""
    if "\n" in rules:
        rs = ruleset.compile_sources([("plain.rules", rules)], Catalog())
    else:
        rs = ruleset.load([rules], Catalog())
    began = time.perf_counter()
    run = runs.Run(rs).scenario(scenarios.Home(scenarios.get(name)), step)
    took = time.perf_counter() - began
    return run.figures(), took


def costs():
    units.set_currency("EUR")
    print("%-14s %-20s %10s %10s %10s %10s %10s" % ("day", "rules", "car kWh", "pump kWh", "import", "export", "net"))
    for name in ("winter_prices", "spring_prices"):
        rows = []
        for rules in (PRICES, FLAT):
            figures, _ = day(rules, name)
            rows.append(figures)
            print("%-14s %-20s %10.2f %10.2f %10.2f %10.2f %10.2f" % ((name, os.path.relpath(rules, ROOT)) + tuple(figures[k] for k in KEYS)))
        a, b = rows
        share = 100 * (a["net_cost"] - b["net_cost"]) / b["net_cost"]
        print("%-14s %-20s %10.2f %10.2f %10.2f %10.2f %10.2f  (%+.0f%% net)" % ((name, "difference") + tuple(a[k] - b[k] for k in KEYS) + (share,)))


def speed(passes):
    print()
    print("sim, a day of 1-s steps (86,400 ticks), best of %d:" % passes)
    found = {}
    for label, rules, name in (
        ("rules/prices/ on winter_prices", PRICES, "winter_prices"),
        ("the same rules without prices, same day", PLAIN, "winter_prices"),
        ("rules/ on winter (no prices)", SHIPPED, "winter"),
    ):
        best = min(day(rules, name, 1)[1] for _ in range(passes))
        found[label] = best
        print("  %-40s %.3f s" % (label, best))
    ratio = found["rules/prices/ on winter_prices"] / found["the same rules without prices, same day"]
    print("  with prices / the same loads without: %.2f" % ratio)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--passes", type=int, default=3)
    options = p.parse_args()
    costs()
    speed(options.passes)


if __name__ == "__main__":
    main()
