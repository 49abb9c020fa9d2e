"""Simulator benchmark: a day of one-second samples through the shipped rules (CPython).

    python3 tools/bench_sim.py                      # both traces, best of 3 passes
    python3 tools/bench_sim.py --passes 1 --changes FILE.jsonl

Builds a day of 1-s samples (86,400 rows, 00:00-24:00) with tools/make_trace.py's
cloudy-day generator, writes it to a temporary file, and times one pass of
reading it (parse only) and one of reading it through a Simulation of rules/
(parse and engine), a single pass as `sim` makes.  Then the same for the
committed tests/traces/cloudy_day.csv.  Each figure is the best of ``--passes``
passes.  ``--changes`` writes the 1-s day's changes as `sim` prints them, to
compare the engine's decisions before and after a change to it.
"""

import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "lib"))
sys.path.insert(0, HERE)

import make_trace  # noqa: E402

from sunshift.host import sim  # noqa: E402
from sunshift.host.trace import Trace  # noqa: E402
from sunshift.lang import ruleset  # noqa: E402

DAY = 86400
RULES = os.path.join(ROOT, "rules")
CLOUDY = os.path.join(ROOT, "tests", "traces", "cloudy_day.csv")


def write_day(path):
    """A cloudy day of 1-s samples from midnight, in make_trace's style."""
    saved = make_trace.START, make_trace.END, make_trace.STEP
    make_trace.START, make_trace.END, make_trace.STEP = 0, DAY - 1, 1
    try:
        rows = make_trace.cloudy_rows()
    finally:
        make_trace.START, make_trace.END, make_trace.STEP = saved
    with open(path, "w") as f:
        f.write("t," + ",".join(make_trace.COLUMNS) + "\n")
        for row in rows:
            f.write(",".join(row) + "\n")
    return len(rows)


def parse_only(path):
    rows = 0
    for _ in Trace(path).rows():
        rows += 1
    return rows


def parse_and_run(ruleset, path, start):
    changes = []
    run = sim.Simulation(ruleset, start, on_change=changes.append)
    run.run(Trace(path))
    return run, changes


def best_of(passes, fn, *args):
    best = None
    result = None
    for _ in range(passes):
        began = time.perf_counter()
        result = fn(*args)
        took = time.perf_counter() - began
        if best is None or took < best:
            best = took
    return best, result


def bench(label, ruleset, path, start, passes, changes_out=None):
    parse_s, rows = best_of(passes, parse_only, path)
    run_s, (run, changes) = best_of(passes, parse_and_run, ruleset, path, start)
    span = run.now or 0
    print("%s: %d rows, %d ticks, %d changes" % (label, rows, run.ticks, len(changes)))
    print("  parse only:       %.3f s" % parse_s)
    print("  parse and engine: %.3f s (%.1f simulated days per second)" % (run_s, span / DAY / run_s))
    if changes_out:
        with open(changes_out, "w") as f:
            for change in changes:
                f.write(sim.change_json(change) + "\n")


def main(argv):
    passes = 3
    changes_out = None
    k = 0
    while k < len(argv):
        if argv[k] == "--passes" and k + 1 < len(argv):
            passes = int(argv[k + 1])
            k += 2
        elif argv[k] == "--changes" and k + 1 < len(argv):
            changes_out = argv[k + 1]
            k += 2
        else:
            sys.stderr.write("usage: python3 tools/bench_sim.py [--passes N] [--changes FILE.jsonl]\n")
            return 2
    rs = ruleset.load([RULES])
    print("python %s, rules: %d rules, %d lets; best of %d passes" % (sys.version.split()[0], len(rs.rules), len(rs.lets), passes))
    fd, path = tempfile.mkstemp(suffix=".csv", prefix="sunshift-day1s-")
    os.close(fd)
    try:
        write_day(path)
        bench("1-s day (00:00-24:00)", rs, path, 0, passes, changes_out)
    finally:
        os.remove(path)
    bench("tests/traces/cloudy_day.csv (from 06:00)", rs, CLOUDY, 6 * 3600, passes)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
