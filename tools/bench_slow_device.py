#!/usr/bin/env python3
"""One device answers a byte at a time for minutes: do the others keep their rate?

    python3 tools/bench_slow_device.py                      # 5 minutes each: `run` (threads), in turn
    python3 tools/bench_slow_device.py --seconds 60
    python3 tools/bench_slow_device.py --board build/proxy  # also the board's loop in the 32-bit stand-in

The real runner against the Envoy, evcc and EMS-ESP simulators over loopback
HTTP; evcc trickles every answer (the status line, then a byte every 0.2 s:
tools/simulators/base.py's ``trickle`` fault) for the whole run.  A rule
follows the Envoy and sets EMS-ESP's hot-water setpoint; the Envoy's power
flips every 20 s.  Printed per mode: each device's polls and the longest gap
between two of them against its target (its poll + 0.2 s when each device is
polled in a thread of its own, as `run` does; its poll + the slow device's
timeout when they are polled in turn, as on a board), and how long the rule
took to follow each flip.  docs/benchmarks.md has the figures.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "lib"))

from simulators.emsesp import EmsEspSimulator  # noqa: E402
from simulators.envoy import EnvoySimulator  # noqa: E402
from simulators.evcc import EvccSimulator  # noqa: E402

from sunshift import port  # noqa: E402
from sunshift.site import config  # noqa: E402
from sunshift.site.runner import Runner  # noqa: E402

POLL = 1.0
TIMEOUT = 5.0
FLIP = 20.0  # seconds between two changes of the Envoy's power
RULES = """
rule follows_envoy
  when envoy.net_consumption < 0
  then emsesp.boiler.dhw.seltemp = 60
  else emsesp.boiler.dhw.seltemp = 50
"""
# The request that stands for a device's poll.
POLL_PATH = {"envoy": "/production.json", "evcc": "/api/state", "emsesp": "/api/boiler"}


class Sims:
    """The three simulators, and the Envoy's power flipped every FLIP seconds."""

    def __init__(self):
        self.envoy = EnvoySimulator("7.6.175_with_cts").start()
        self.evcc = EvccSimulator().start()
        self.ems = EmsEspSimulator(token="ems-token").start()
        self.flips = []  # (monotonic time, the setpoint the rule should set)
        self.flipping = threading.Event()
        self.export(False)

    def export(self, on):
        self.envoy.set_power(production=3000 if on else 400, consumption=800)
        self.flips.append((time.monotonic(), 60 if on else 50))

    def flip_every(self, seconds):
        def loop():
            on = False
            while not self.flipping.wait(seconds):
                on = not on
                self.export(on)

        threading.Thread(target=loop, daemon=True).start()

    def by_device(self):
        return {"envoy": self.envoy, "evcc": self.evcc, "emsesp": self.ems}

    def stop(self):
        self.flipping.set()
        for sim in self.by_device().values():
            sim.stop()


def gaps(sim, path, since, until):
    """(polls, longest gap in seconds) of requests for ``path`` between ``since`` and ``until``."""
    times = sorted(r.at for r in list(sim.requests) if since <= r.at <= until and r.path == path)
    edges = [since] + times + [until]
    return len(times), max(b - a for a, b in zip(edges, edges[1:]))


def follow_times(sims, sets, since, until):
    """How long the rule took to follow each flip between ``since`` and the last
    seconds before ``until``: the seconds from the flip to the first write of its setpoint."""
    out = []
    for at, value in sims.flips:
        if at < since or at > until - 2 * POLL - TIMEOUT:
            continue
        done = [t for t, v in sets if t >= at and v == value]
        out.append(done[0] - at if done else None)
    return out


def cpython_mode(seconds, threads):
    """The real Runner on CPython, each device polled in a thread (`run`) or in turn."""
    sims = Sims()
    folder = tempfile.mkdtemp(prefix="sunshift-slow-")
    try:
        with open(os.path.join(folder, "site.rules"), "w") as f:
            f.write(RULES)
        common = {"poll": POLL, "timeout": TIMEOUT, "stale_after": 30}
        site = {
            "rules": "site.rules",
            "devices": {
                "envoy": dict(common, type="envoy", url=sims.envoy.url, insecure_tls=True),
                "evcc": dict(common, type="evcc", url=sims.evcc.url),
                "emsesp": dict(common, type="emsesp", url=sims.ems.url),
            },
        }
        with open(os.path.join(folder, "site.json"), "w") as f:
            json.dump(site, f)
        with open(os.path.join(folder, "secrets.json"), "w") as f:
            json.dump({"envoy": {"token": sims.envoy.token}, "emsesp": {"token": "ems-token"}}, f)
        sets = []

        def sink(line):
            if "emsesp.boiler.dhw.seltemp: set " in line:
                sets.append((time.monotonic(), int(line.split(": set ")[1].split()[0])))

        polls = port.backend("polls").Polls() if threads else None
        runner = Runner(config.load(os.path.join(folder, "site.json")), port.Log(sink=sink), polls=polls)
        warm = time.monotonic() + 3  # every device read once, the rule decided
        runner.run(time.monotonic, lambda: None, stop=lambda: time.monotonic() >= warm)
        sims.evcc.fail("trickle")
        sims.flip_every(FLIP)
        start = time.monotonic()
        end = start + seconds
        runner.run(time.monotonic, lambda: None, stop=lambda: time.monotonic() >= end)
        runner.close()
        return report(sims, start, end, sets, POLL + (0.2 if threads else TIMEOUT))
    finally:
        sims.stop()
        shutil.rmtree(folder, ignore_errors=True)


def board_mode(seconds, proxy):
    """The board's own loop in the 32-bit stand-in (tools/board_proxy.py's bench
    site over HTTP), evcc trickling; its polls come from the simulators' logs."""
    import board_proxy

    site = board_proxy.Site("bench-http-rest")
    try:
        site.fresh()
        site.evcc.fail("trickle")
        start = time.monotonic()
        command = [os.path.join(proxy, "micropython"), "-X", "heapsize=96K", os.path.join(HERE, "proxy", "board_run.py"), site.folder, "1000000"]
        try:
            subprocess.run(command, capture_output=True, text=True, timeout=seconds, cwd=ROOT)
        except subprocess.TimeoutExpired:
            pass  # it turns until stopped: the run is the time it had
        end = time.monotonic()
        sims = type("Sims", (), {})()
        sims.by_device = lambda: {"envoy": site.envoy, "evcc": site.evcc, "emsesp": site.ems}
        sims.flips = []
        # The stand-in's own poll is 0.5 s, its timeout the default (port.TIMEOUT); the first 10 s are its start.
        return report(sims, start + 10, end, [], 0.5 + port.TIMEOUT)
    finally:
        site.stop()


def report(sims, start, end, sets, target):
    """The figures of one mode as a dict."""
    out = {"seconds": round(end - start, 1), "target_gap": target, "devices": {}}
    for name, sim in sims.by_device().items():
        count, gap = gaps(sim, POLL_PATH[name], start, end)
        out["devices"][name] = {"polls": count, "longest_gap": round(gap, 2)}
    follows = follow_times(sims, sets, start, end)
    out["flips"] = len(follows)
    out["followed"] = len([f for f in follows if f is not None])
    out["slowest_follow"] = round(max([f for f in follows if f is not None] or [0]), 2)
    return out


def show(name, figures):
    print("%s, %s s with evcc trickling:" % (name, figures["seconds"]))
    for device, f in figures["devices"].items():
        if device == "evcc":
            print("  %-7s %4d requests (each ended by its deadline)" % (device, f["polls"]))
            continue
        mark = "ok" if f["longest_gap"] <= figures["target_gap"] else "OVER"
        print("  %-7s %4d polls, longest gap %.2f s (target <= %.1f s: %s)" % (device, f["polls"], f["longest_gap"], figures["target_gap"], mark))
    if figures["flips"]:
        print("  rule followed %d of %d flips of the Envoy, the slowest after %.2f s" % (figures["followed"], figures["flips"], figures["slowest_follow"]))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 tools/bench_slow_device.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=300, help="how long evcc trickles in each mode (default 300)")
    p.add_argument("--board", metavar="PROXY", help="also run the board's loop in the stand-in built by tools/proxy/build.sh into PROXY")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    results = {}
    results["run (each device in a thread)"] = cpython_mode(args.seconds, True)
    results["in turn (the board's loop, on CPython)"] = cpython_mode(args.seconds, False)
    if args.board:
        results["board stand-in (32-bit MicroPython)"] = board_mode(args.seconds, args.board)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for name, figures in results.items():
            show(name, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
