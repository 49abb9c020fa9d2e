"""Reaction time over loopback: the Envoy's figure changes -> evcc receives the command.

    python3 tools/bench_reaction.py [ROUNDS]

The real loop (Runner.run, in a thread) polls the Envoy simulator
every second over HTTPS; a rule with no delay sets evcc's mode from the sign of
the grid power.  Each round flips the Envoy between import and export at a
random moment and times until the evcc simulator has the new mode, once with
evcc written over REST and once over MQTT (through a real Mosquitto).
Target: at most the poll interval + 100 ms.
"""

import json
import os
import random
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(os.path.dirname(HERE), "lib"), HERE]

from simulators.broker import Broker  # noqa: E402
from simulators.envoy import EnvoySimulator  # noqa: E402
from simulators.evcc import EvccSimulator  # noqa: E402

from sunshift import port  # noqa: E402
from sunshift.site import config  # noqa: E402
from sunshift.site.runner import Runner  # noqa: E402

POLL = 1.0
RULES = """
rule follow "evcc follows the grid meter at once"
  when envoy.net_consumption < -1kW
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
"""


def measure(transport, rounds, broker):
    folder = tempfile.mkdtemp(prefix="sunshift-bench-")
    envoy = EnvoySimulator("7.6.175_with_cts").start()
    envoy.set_power(production=400, consumption=800)
    evcc = EvccSimulator(broker=("127.0.0.1", broker.port), topic="bench-" + transport, interval=30).start()
    with open(os.path.join(folder, "bench.rules"), "w") as f:
        f.write(RULES)
    device = {"type": "evcc", "transport": transport, "topic": "bench-" + transport, "poll": POLL}
    if transport == "rest":
        device["url"] = evcc.url
    site = {
        "rules": os.path.join(folder, "bench.rules"),
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": "bench-" + transport},
        "devices": {"envoy": {"type": "envoy", "url": envoy.url, "insecure_tls": True, "poll": POLL}, "evcc": device},
    }
    with open(os.path.join(folder, "site.json"), "w") as f:
        json.dump(site, f)
    with open(os.path.join(folder, "secrets.json"), "w") as f:
        json.dump({"envoy": {"token": envoy.token}}, f)
    runner = Runner(config.load(os.path.join(folder, "site.json")), port.Log(level=port.WARN))
    stop = threading.Event()
    turns = threading.Thread(target=runner.run, args=(port.make_clock(), lambda: None), kwargs={"stop": stop.is_set}, daemon=True)
    turns.start()
    try:
        end = time.monotonic() + 10
        while evcc.loadpoint(1)["mode"] != "off" and time.monotonic() < end:
            time.sleep(0.01)
        times = []
        exporting = False
        for _ in range(rounds):
            time.sleep(random.uniform(0.3, 1.7))  # a random phase against the poll
            exporting = not exporting
            want = "pv" if exporting else "off"
            start = time.monotonic()
            envoy.set_power(production=4000 if exporting else 400, consumption=800)
            while evcc.loadpoint(1)["mode"] != want:
                if time.monotonic() - start > 5:
                    raise SystemExit("no reaction within 5 s (%s)" % transport)
                time.sleep(0.001)
            times.append(time.monotonic() - start)
    finally:
        stop.set()
        turns.join(5)
        runner.close()
        envoy.stop()
        evcc.stop()
    return times


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    random.seed(1)
    with Broker() as broker:
        for transport in ("rest", "mqtt"):
            times = sorted(measure(transport, rounds, broker))
            median = times[len(times) // 2]
            print(
                "reaction, evcc over %s, poll %.0f s, %d rounds: min %.0f ms, median %.0f ms, max %.0f ms (target <= %.0f ms)"
                % (transport.upper(), POLL, rounds, times[0] * 1000, median * 1000, times[-1] * 1000, (POLL + 0.1) * 1000)
            )


if __name__ == "__main__":
    main()
