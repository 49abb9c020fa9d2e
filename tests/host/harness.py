"""A whole site on loopback for tests: Envoy, evcc and EMS-ESP simulators, a
real broker, rule files, config and secrets on disk, and the real Runner."""

import json
import time

from simulators.emsesp import EmsEspSimulator
from simulators.envoy import EnvoySimulator
from simulators.evcc import EvccSimulator

from sunshift import port
from sunshift.cpython.polls import Polls
from sunshift.site import config
from sunshift.site.runner import Runner


class Site:
    """Everything running; ``run_until`` turns the real loop until a condition holds."""

    def __init__(self, tmp_path, broker, rules, evcc_transport="rest", poll=0.2, stale=2.0, timeout=1.0, ems_transport="rest", threads=False):
        topic = "site-%s-%d" % (evcc_transport, id(self))
        self.envoy = EnvoySimulator("7.6.175_with_cts").start()
        self.envoy.set_power(production=400, consumption=800)  # importing 400 W
        self.evcc = EvccSimulator(broker=("127.0.0.1", broker.port), topic=topic, interval=0.3).start()
        base = "ems-%d" % id(self)
        self.ems = EmsEspSimulator(token="ems-token", broker=("127.0.0.1", broker.port), base=base, interval=0.3).start()
        (tmp_path / "site.rules").write_text(rules)
        evcc = {"type": "evcc", "transport": evcc_transport, "topic": topic, "poll": poll, "timeout": timeout, "stale_after": stale}
        if evcc_transport == "rest":
            evcc["url"] = self.evcc.url
        ems = {"type": "emsesp", "url": self.ems.url, "poll": poll, "timeout": timeout, "stale_after": stale, "transport": ems_transport, "base": base}
        site = {
            "rules": str(tmp_path / "site.rules"),
            "mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": "site-%d" % id(self)},
            "devices": {
                "envoy": {"type": "envoy", "url": self.envoy.url, "insecure_tls": True, "poll": poll, "timeout": timeout, "stale_after": stale},
                "evcc": evcc,
                "emsesp": ems,
            },
        }
        (tmp_path / "site.json").write_text("// a test site\n" + json.dumps(site))
        (tmp_path / "secrets.json").write_text(json.dumps({"envoy": {"token": self.envoy.token}, "emsesp": {"token": "ems-token"}}))
        self.lines = []
        self.log = port.Log(sink=self.lines.append)
        # threads: each device polled in a thread of its own, as `run` does (cpython/polls.py).
        self.runner = Runner(config.load(str(tmp_path / "site.json")), self.log, polls=Polls() if threads else None)
        self.engine = self.runner.engine
        self.clock = time.monotonic

    def step(self):
        self.runner.step(self.clock(), None)

    def run_until(self, condition, timeout):
        """Turn the loop until ``condition()``; the seconds it took (fails after ``timeout``)."""
        start = time.monotonic()
        while not condition():
            if time.monotonic() - start > timeout:
                raise AssertionError("not within %.1f s; log:\n%s" % (timeout, "\n".join(self.lines[-15:])))
            self.step()
            time.sleep(0.02)
        return time.monotonic() - start

    def run_for(self, seconds):
        """Turn the loop for ``seconds``."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.step()
            time.sleep(0.02)

    def fresh(self, signal, limit):
        """True if the engine's latest sample of ``signal`` is younger than ``limit``."""
        t = self.engine.signals.times.get(signal)
        return t is not None and self.clock() - t < limit

    def warnings(self, source):
        return [line for line in self.lines if " WARN %s" % source in line]

    def mode_writes(self, value):
        return [w for w in self.evcc.writes if w[1] == "evcc.loadpoints.1.mode" and w[2] == value]

    def stop(self):
        self.runner.close()
        for sim in (self.envoy, self.evcc, self.ems):
            sim.stop()
