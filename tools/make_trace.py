"""Write made-up but plausible traces as CSV for `sunshift sim`.

    python3 tools/make_trace.py cloudy > tests/traces/cloudy_day.csv
    python3 tools/make_trace.py surplus_hour > tests/traces/surplus_hour.csv
    python3 tools/make_trace.py dropout > tests/traces/envoy_dropout.csv

`surplus_hour` and `dropout` are short and flat, so what the rules do can be
worked out by hand (tests/host/test_example_traces.py does).

The day is deterministic (a fixed-seed generator), so the committed trace can
be made again byte for byte.  It starts at 06:00 (use --start ...T06:00 with
sim) and has one sample every 10 s until 20:00:

* production: a clear-sky bell from 07:00 to 19:00, peak 7 kW, under broken
  clouds that pass every few minutes and cut it to a third;
* the house draws about 450 W with kettle and oven spikes;
* the car is plugged in all day (not charging in this open-loop recording);
* the Envoy drops out from 12:30 to 12:36 (empty cells), so rules that read it
  go stale;
* the hot-water tank cools slowly, with a shower at 18:00, and the heat pump
  does not run (its hpcurrpower is 0; rules/site.rules reads it).
"""

import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from sunshift.host.scenarios import Lcg  # the same fixed-seed generator as the built-in days

START = 6 * 3600
END = 20 * 3600
STEP = 10
DROPOUT = (12 * 3600 + 30 * 60, 12 * 3600 + 36 * 60)

COLUMNS = [
    "envoy.net_consumption",
    "evcc.loadpoints.1.chargePower",
    "evcc.loadpoints.1.connected",
    "evcc.loadpoints.1.charging",
    "evcc.loadpoints.1.vehicleSoc",
    "evcc.site.battery.soc",
    "emsesp.boiler.dhw.curtemp",
    "emsesp.boiler.hpcurrpower",
]


def clear_sky(tod):
    sunrise, sunset = 7 * 3600, 19 * 3600
    if not sunrise < tod < sunset:
        return 0.0
    return 7000.0 * math.sin(math.pi * (tod - sunrise) / (sunset - sunrise)) ** 1.5


def cloudy_rows():
    rnd = Lcg(20261121)
    cloudy = False
    switch_at = START
    tank = 52.0
    battery = 45.0
    rows = []
    for tod in range(START, END + 1, STEP):
        if tod >= switch_at:
            cloudy = not cloudy
            switch_at = tod + int(60 + rnd.random() * (240 if cloudy else 420))
        production = clear_sky(tod) * (0.33 if cloudy else 1.0)
        house = 450 + rnd.random() * 120
        if rnd.random() < 0.02:
            house += 2000  # a kettle or the oven
        net = round(house - production)
        tank -= STEP * 0.00012
        if 18 * 3600 <= tod < 18 * 3600 + 600:
            tank -= STEP * 0.02  # a shower
        battery = min(100.0, max(5.0, battery + (-net) * STEP / 3600 / 100 * 0.5))
        envoy = "" if DROPOUT[0] <= tod < DROPOUT[1] else str(net)
        rows.append([str(tod - START), envoy, "0", "true", "false", "35", "%.1f" % battery, "%.1f" % tank, "0"])
    return rows


def steps_rows(steps, every):
    """Rows holding each (seconds, net W) step for its duration, one every ``every`` s;
    a net of None leaves the Envoy's cell empty (no sample)."""
    rows = []
    t = 0
    for length, net in steps:
        end = t + length
        while t < end:
            envoy = "" if net is None else str(net)
            rows.append([str(t), envoy, "0", "true", "false", "35", "60.0", "50.0", "0"])
            t += every
    return rows


def surplus_hour_rows():
    """From 07:30: 10 min importing, 30 min of 2.5 kW surplus, 10 min of 1 kW
    (between ev_surplus's thresholds), 10 min importing again; every 30 s."""
    return steps_rows([(600, 500), (1800, -2500), (600, -1000), (600, 200)], 30)


def dropout_rows():
    """From 10:00: 10 min of 3 kW surplus, the Envoy silent for 5 min, then 15
    min of 3 kW surplus again; every 10 s."""
    return steps_rows([(600, -3000), (300, None), (900, -3000)], 10)


TRACES = {"cloudy": cloudy_rows, "surplus_hour": surplus_hour_rows, "dropout": dropout_rows}


def main(argv):
    if len(argv) != 1 or argv[0] not in TRACES:
        sys.stderr.write("usage: python3 tools/make_trace.py {%s} > FILE.csv\n" % ",".join(TRACES))
        return 2
    out = sys.stdout
    out.write("t," + ",".join(COLUMNS) + "\n")
    for row in TRACES[argv[0]]():
        out.write(",".join(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
