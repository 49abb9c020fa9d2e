#!/usr/bin/env python3
"""A chaos soak: the real engine against misbehaving devices for minutes on end.

    python3 tools/bench_chaos.py                  # 10 minutes
    python3 tools/bench_chaos.py --minutes 1 --json

`python3 main.py run --config site.json` runs as a subprocess, as a user runs
it (each device polled in a thread of its own), against the Envoy (HTTPS with
a token) and evcc (REST) simulators and EMS-ESP over MQTT through a real
Mosquitto, all on loopback.  Two rules follow the Envoy: exporting, evcc's
loadpoint goes to `pv` (a REST write) and EMS-ESP's hot-water setpoint to 60
(an MQTT write); importing (or the Envoy's figure stale), `off` and 50.  The
Envoy's power flips every 30 s, so the rules write often.

One fault at a time, in an order drawn with a fixed seed so runs compare:
every fault of tools/simulators/base.py (FAULTS) on the Envoy and on evcc,
evcc refusing writes (HTTP 500 on its setter paths only, the Envoy flipped
just after so a write meets it), the broker restarted, and each simulator
killed and started again on the same port with a fresh state.  A fault lasts
--fault seconds, then --quiet seconds of calm before the next.  At the end
every fault is healed, the site settles, and the engine is stopped.

Printed: crashes (the process died), tracebacks (any "Traceback" in its
output), lost writes (a target's value on the device against the engine's
last decision in its state file), duplicated writes (the same value twice in
a row on a device that had no trouble in between; re-sends after a restart,
a recovery or an answer lost in a fault are counted apart), recovery time
per fault kind (from the fault clearing to the engine's "answers again" line,
and to the first request of the device's next poll), RSS every 10 s and its
growth per hour after a warm-up minute, and the device's log lines per
episode.  docs/benchmarks.md has the figures.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

try:
    import paho.mqtt.client  # noqa: F401  (the simulators' MQTT side)
except ImportError:
    # The virtualenv of tools/setup.sh has it: run there, as the user asked.
    VENV = os.path.join(ROOT, ".venv", "bin", "python")
    if os.path.exists(VENV) and os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(ROOT, ".venv")):
        os.execv(VENV, [VENV] + sys.argv)
    sys.exit("bench_chaos.py needs paho-mqtt: bash tools/setup.sh makes .venv with it")

sys.path[:0] = [HERE, os.path.join(ROOT, "lib")]

from simulators.base import FAULTS  # noqa: E402
from simulators.broker import Broker, free_port  # noqa: E402
from simulators.emsesp import EmsEspSimulator  # noqa: E402
from simulators.envoy import EnvoySimulator  # noqa: E402
from simulators.evcc import EvccSimulator  # noqa: E402

from sunshift.devices import kinds  # noqa: E402
from sunshift.site import config  # noqa: E402

POLL = 1.0
TIMEOUT = 2.0
STALE = 3.0
SEED = 15
TURN = 0.05  # the engine's longest pause between two turns (site/runner.py TURN_MS)
RETRY_FIRST = 5  # a refused write's first retry (core/dispatch.py RETRY_AFTER)
TOKEN_EMS = "ems-token"
TARGETS = {"evcc.loadpoints.1.mode": ("pv", "off"), "emsesp.boiler.dhw.seltemp": (60, 50)}
RULES = """
rule car_follows_envoy
  when envoy.net_consumption < 0
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
rule water_follows_envoy
  when envoy.net_consumption < 0
  then emsesp.boiler.dhw.seltemp = 60
  else emsesp.boiler.dhw.seltemp = 50
"""
# Which log source is a device's own (its episodes: "…; its signals will go stale", "answers again").
REST_DEVICES = ("envoy", "evcc")


def kinds_of_fault():
    """Every episode kind as (device, fault): the simulators' faults on each REST
    device, refused writes, a broker restart and each simulator killed."""
    out = [(device, fault) for device in REST_DEVICES for fault in FAULTS]
    out += [("evcc", "refused_write"), ("broker", "restart")]
    out += [(device, "killed") for device in ("envoy", "evcc", "emsesp")]
    return out


class Writes(list):
    """A simulator's ``writes`` that also stamps each applied write into one
    list kept across restarts: (monotonic time, target, value)."""

    def __init__(self, stamped):
        list.__init__(self)
        self.stamped = stamped

    def append(self, item):
        list.append(self, item)
        self.stamped.append((time.monotonic(), item[1], item[2]))


class Engine:
    """`main.py run` as a subprocess; every line of its output stamped as it comes."""

    def __init__(self, folder):
        self.folder = folder
        self.lines = []  # (monotonic time, line)
        self.crashes = []  # exit codes of runs that ended on their own
        self.process = None
        self.start()

    def start(self):
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)  # lines with their time and level, as outside systemd
        env["PYTHONUNBUFFERED"] = "1"
        command = [sys.executable, os.path.join(ROOT, "main.py"), "run", "--config", os.path.join(self.folder, "site.json")]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
        for stream in (self.process.stdout, self.process.stderr):
            threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def alive(self):
        """True while it runs; a run that ended by itself counts as a crash and is started again."""
        code = self.process.poll()
        if code is None:
            return True
        self.crashes.append(code)
        self.start()
        return False

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.process.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(TIMEOUT * 3 + 5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def parse(line):
    """(level, source, message) of a log line, or None."""
    parts = line.split(" ", 3)  # "YYYY-MM-DD HH:MM:SS LEVEL source: message"
    if len(parts) < 4 or parts[2] not in ("DEBUG", "INFO", "WARN", "ERROR"):
        return None
    source, _, message = parts[3].partition(": ")
    return parts[2], source, message


class Soak:
    """The site on loopback, the engine, the fault schedule and what was seen."""

    def __init__(self, args):
        self.args = args
        self.folder = tempfile.mkdtemp(prefix="sunshift-chaos-")
        self.writes = []  # (time, target, value) applied by the simulators
        self.episodes = []
        self.rss = []  # (time, kB)
        self.exporting = False
        self.next_flip = None
        self.last_flip = 0
        self.broker = Broker().start()
        self.ports = {"envoy": free_port(), "evcc": free_port(), "emsesp": free_port()}
        self.sims = {}
        for device in ("envoy", "evcc", "emsesp"):
            self.sims[device] = self.make(device)
        self.set_power()
        self.write_site()
        self.answer = self.answer_times()

    # --- the site -------------------------------------------------------------------

    def make(self, device):
        """A fresh simulator of ``device`` on its port, started."""
        if device == "envoy":
            sim = EnvoySimulator("7.6.175_with_cts", port=self.ports["envoy"])
        elif device == "evcc":
            sim = EvccSimulator(port=self.ports["evcc"])
        else:
            sim = EmsEspSimulator(port=self.ports["emsesp"], token=TOKEN_EMS, broker=("127.0.0.1", self.broker.port), interval=1.0)
        if device != "envoy":
            sim.writes = Writes(self.writes)
        return sim.start()

    def set_power(self):
        production = 3000 if self.exporting else 400
        self.sims["envoy"].set_power(production=production, consumption=800)

    def flip(self):
        self.last_flip = time.monotonic()
        self.exporting = not self.exporting
        self.set_power()
        self.next_flip = time.monotonic() + self.args.flip

    def write_site(self):
        common = {"poll": POLL, "timeout": TIMEOUT}
        site = {
            "rules": "chaos.rules",
            "stale_after": STALE,
            "mqtt": {"host": "127.0.0.1", "port": self.broker.port, "client_id": "sunshift-chaos"},
            "devices": {
                "envoy": dict(common, type="envoy", url=self.sims["envoy"].url, insecure_tls=True),
                "evcc": dict(common, type="evcc", url=self.sims["evcc"].url),
                "emsesp": {"type": "emsesp", "transport": "mqtt", "url": self.sims["emsesp"].url, "timeout": TIMEOUT},
            },
        }
        with open(os.path.join(self.folder, "chaos.rules"), "w") as f:
            f.write(RULES)
        with open(os.path.join(self.folder, "site.json"), "w") as f:
            json.dump(site, f, indent=1)
        with open(os.path.join(self.folder, "secrets.json"), "w") as f:
            json.dump({"envoy": {"token": self.sims["envoy"].token}, "emsesp": {"token": TOKEN_EMS}}, f)

    def answer_times(self):
        """Each REST device's answer time: the slowest of five polls by sunshift's
        own adapter, each on a new connection (as after a fault: TLS handshake included)."""
        site = config.load(os.path.join(self.folder, "site.json"))
        out = {}
        for device in REST_DEVICES:
            took = []
            for _ in range(5):
                adapter = kinds.build(device, site.devices[device], None)
                start = time.monotonic()
                adapter.poll()
                took.append(time.monotonic() - start)
                adapter.close()
            out[device] = max(took)
        return out

    # --- faults ---------------------------------------------------------------------

    def apply(self, device, fault):
        if fault == "restart":
            self.broker.stop()
        elif fault == "killed":
            self.sims[device].stop(clean=False)
        elif fault == "refused_write":
            self.sims[device].fail("http500", path="/api/loadpoints/")
            # A write to meet the refusal; unless the Envoy flipped a moment ago (the rules
            # write for that one now): a second flip would undo it before a poll saw it.
            if time.monotonic() - self.last_flip > 2 * POLL:
                self.flip()
        else:
            self.sims[device].fail(fault)

    def heal(self, device, fault):
        if fault == "restart":
            self.broker.start()
        elif fault == "killed":
            self.sims[device] = self.make(device)
            if device == "envoy":
                self.set_power()
        else:
            self.sims[device].heal()

    def wait(self, seconds, engine):
        """Let ``seconds`` pass: flip the Envoy when due, sample RSS, watch the engine."""
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= end:
                return
            if self.next_flip is not None and now >= self.next_flip:
                self.flip()
            if not self.rss or now - self.rss[-1][0] >= self.args.rss_every:
                engine.alive()
                kb = engine.rss_kb()
                if kb is not None:
                    self.rss.append((now, kb))
            time.sleep(min(0.05, end - now))

    def run(self):
        engine = Engine(self.folder)
        try:
            # Started: every device read once and the rules decided.
            self.wait(self.args.warmup, engine)
            start = time.monotonic()
            end = start + self.args.minutes * 60
            order = []
            rng = random.Random(self.args.seed)
            self.next_flip = time.monotonic() + self.args.flip
            while time.monotonic() + self.args.fault + self.args.quiet <= end:
                if not order:
                    order = kinds_of_fault()
                    rng.shuffle(order)
                device, fault = order.pop()
                episode = {"device": device, "fault": fault, "start": time.monotonic()}
                self.apply(device, fault)
                self.wait(self.args.fault, engine)
                episode["sims"] = dict(self.sims)  # the instances that answer after the heal
                self.heal(device, fault)
                episode["healed"] = time.monotonic()
                self.episodes.append(episode)
                # A refused write is tried again 5, 10, 20 ... s after the first refusal: the calm
                # lasts until the next try is due, or the next fault would meet it.
                quiet = self.args.quiet if fault != "refused_write" else max(self.args.quiet, self.args.fault + RETRY_FIRST + 1)
                self.wait(quiet, engine)
                episode["end"] = time.monotonic()
            self.next_flip = None
            self.soak_seconds = time.monotonic() - start
            self.wait(self.args.settle, engine)
            on_device = {
                "evcc.loadpoints.1.mode": self.sims["evcc"].loadpoint(1)["mode"],
                "emsesp.boiler.dhw.seltemp": self.sims["emsesp"].value("boiler", "dhw", "seltemp"),
            }
            engine.alive()
            engine.stop()
            time.sleep(0.2)  # the reader threads take the last lines
            if self.args.log:
                with open(self.args.log, "w") as f:
                    t0 = self.episodes[0]["start"] if self.episodes else 0
                    for e in self.episodes:
                        f.write("%9.2f soak: %s %s from here, cleared at %.2f\n" % (e["start"] - t0, e["device"], e["fault"], e["healed"] - t0))
                    f.writelines("%9.2f %s\n" % (t - t0, line) for t, line in engine.lines)
            return self.report(engine, on_device)
        finally:
            if engine.process.poll() is None:
                engine.process.kill()
            for sim in self.sims.values():
                sim.stop()
            self.broker.__exit__()  # stopped, its folder removed
            shutil.rmtree(self.folder, ignore_errors=True)

    # --- the figures ----------------------------------------------------------------

    def report(self, engine, on_device):
        lines = list(engine.lines)
        out = {"minutes": round(self.soak_seconds / 60, 2), "episodes": len(self.episodes), "seed": self.args.seed}
        out["crashes"] = len(engine.crashes)
        out["tracebacks"] = len([t for t, line in lines if "Traceback" in line])
        out["log_lines"] = len(lines)
        out["writes"] = self.write_figures(lines, on_device)
        out["recovery"] = self.recovery(lines)
        out["rss"] = self.rss_figures()
        return out

    def decisions(self):
        """The engine's last decision per target, from the state file it saved on SIGTERM."""
        try:
            with open(os.path.join(self.folder, "sunshift.state.json")) as f:
                state = json.load(f)
        except (OSError, ValueError):
            return {}
        return {entry["target"]: entry.get("last", entry.get("written")) for entry in state.get("targets", [])}

    def write_figures(self, lines, on_device):
        decided = self.decisions()
        last_set = {}
        for _, line in lines:
            parsed = parse(line)
            if parsed and parsed[1] in TARGETS and parsed[2].startswith("set "):
                last_set[parsed[1]] = json.loads(parsed[2].split(" ")[1])
        expected = {target: values[0 if self.exporting else 1] for target, values in TARGETS.items()}
        lost = [t for t in TARGETS if on_device[t] != decided.get(t, expected[t])]
        duplicated, resent = self.duplicates()
        return {
            "applied": len(self.writes),
            "lost": len(lost),
            "lost_targets": {t: {"device": on_device[t], "decided": decided.get(t), "last_set": last_set.get(t)} for t in lost},
            "final": {t: {"device": on_device[t], "decided": decided.get(t), "rules_want": expected[t]} for t in TARGETS},
            "duplicated": len(duplicated),
            "duplicated_at": duplicated[:10],
            "resent_after_trouble": resent,
        }

    def troubled(self, target, since, until):
        """True if the target's device (or, for one over MQTT, the broker) had an
        episode between two writes: a re-send then is expected."""
        device = target.split(".")[0]
        for e in self.episodes:
            if e["device"] in (device, "broker" if device == "emsesp" else device) and e["start"] <= until and e["end"] >= since:
                return True
        return False

    def duplicates(self):
        duplicated = []
        resent = 0
        last = {}
        for at, target, value in self.writes:
            if target in last and last[target][1] == value:
                if self.troubled(target, last[target][0], at):
                    resent += 1
                else:
                    duplicated.append((target, value, round(at - self.episodes[0]["start"] if self.episodes else 0, 1)))
            last[target] = (at, value)
        return duplicated, resent

    def recovery(self, lines):
        """Per fault kind: episodes, seconds from the heal to "answers again" (and to
        the next poll's first request), the target, and the device's log lines per episode."""
        kinds_seen = {}
        for e in self.episodes:
            device, fault = e["device"], e["fault"]
            label = "broker restart" if device == "broker" else ("%s killed" % device if fault == "killed" else fault.replace("_", " "))
            if fault == "refused_write":
                label = "refused write"
            figures = kinds_seen.setdefault(label, {"episodes": 0, "recovered": [], "asked": [], "unseen": 0, "lines": [], "target": 0})
            figures["episodes"] += 1
            healed, until = e["healed"], e["end"]
            window = [(t, parse(line)) for t, line in lines if e["start"] <= t < until]
            window = [(t, p) for t, p in window if p]
            seconds, target, own = self.recovered(e, window)
            figures["target"] = max(figures["target"], target)
            figures["lines"].append(len(own))
            if seconds is None:
                figures["unseen"] += 1
            else:
                figures["recovered"].append(seconds)
            if device in REST_DEVICES:
                sim = e["sims"][device]
                asked = [r.at for r in list(sim.requests) if r.at >= healed and r.method == "GET"]
                if asked:
                    figures["asked"].append(min(asked) - healed)
        out = {}
        for label, f in sorted(kinds_seen.items()):
            recovered = f["recovered"]
            worst = max(recovered) if recovered else None
            out[label] = {
                "episodes": f["episodes"],
                "no_trouble_seen": f["unseen"],
                "recovery_max": None if worst is None else round(worst, 2),
                "recovery_median": None if not recovered else round(sorted(recovered)[len(recovered) // 2], 2),
                "next_poll_asked_max": round(max(f["asked"]), 2) if f["asked"] else None,
                "target": round(f["target"], 2),
                "ok": worst is None or worst <= f["target"],
                "log_lines_per_episode": sorted(set(f["lines"])),
            }
        return out

    def recovered(self, e, window):
        """(seconds from the heal to the recovery line or None, the target, the device's own lines)."""
        device, fault, healed = e["device"], e["fault"], e["healed"]
        if device == "broker":
            own = [(t, p) for t, p in window if p[1] == "mqtt"]
            back = [t for t, p in own if t >= healed and p[0] == "INFO" and p[2].startswith("connected")]
            # The link is tried again after 1, 2, 4 ... s (cpython/mqtt.py): the next try
            # comes at most as long after the heal as the broker was away, plus the first delay.
            target = (healed - e["start"]) + 1 + TURN
        elif fault == "refused_write":
            own = [(t, p) for t, p in window if p[1] == "evcc.loadpoints.1.mode" and p[2].startswith(("could not set", "reachable again"))]
            back = [t for t, p in own if t >= healed and p[2].startswith("reachable again")]
            # A refused write is tried again after 5, 10, 20 ... s (core/dispatch.py): the next
            # try comes at most as long after the heal as the refusal lasted, plus the first delay.
            target = (healed - e["start"]) + RETRY_FIRST + TURN
        elif device == "emsesp":
            own = [(t, p) for t, p in window if p[1] == "emsesp"]
            back = [t for t, p in own if t >= healed and p[2].startswith("says it is online again")]
            target = 1.0 + TURN  # it says online as it connects; its values follow every 1 s
        else:
            own = [(t, p) for t, p in window if p[1] == device]
            back = [t for t, p in own if t >= healed and p[2].startswith("answers again")]
            target = POLL + self.answer[device] + TURN
        if not [1 for t, p in own if p[0] == "WARN"]:
            return None, target, own  # the engine saw nothing wrong (a fault its parser takes, a refusal no write met)
        return (back[0] - healed if back else float("inf")), target, own

    def rss_figures(self):
        samples = self.rss
        if not samples:
            return {}
        t0 = samples[0][0]
        late = [(t, kb) for t, kb in samples if t - t0 >= self.args.rss_warmup]
        out = {
            "samples": len(samples),
            "first_mb": round(samples[0][1] / 1024, 1),
            "last_mb": round(samples[-1][1] / 1024, 1),
            "max_mb": round(max(kb for _, kb in samples) / 1024, 1),
            "growth_mb_per_hour": None,
            "every_minute_mb": [round(kb / 1024, 1) for t, kb in samples if int((t - t0) / 60) != int((t - t0 - self.args.rss_every) / 60)],
        }
        if len(late) >= 3:
            # Least squares over the samples after the warm-up.
            n = len(late)
            mt = sum(t for t, _ in late) / n
            mk = sum(kb for _, kb in late) / n
            slope = sum((t - mt) * (kb - mk) for t, kb in late) / sum((t - mt) ** 2 for t, _ in late)
            out["growth_mb_per_hour"] = round(slope * 3600 / 1024, 2)
        return out


def mark(ok):
    return "ok" if ok else "OVER"


def show(r):
    print("chaos soak: %.1f minutes, %d fault episodes (seed %d), %d log lines" % (r["minutes"], r["episodes"], r["seed"], r["log_lines"]))
    print("  crashes          %d (target 0: %s)" % (r["crashes"], mark(r["crashes"] == 0)))
    print("  tracebacks       %d (target 0: %s)" % (r["tracebacks"], mark(r["tracebacks"] == 0)))
    w = r["writes"]
    print("  lost writes      %d of %d targets (target 0: %s)" % (w["lost"], len(w["final"]), mark(w["lost"] == 0)))
    for target, f in w["final"].items():
        print("    %-26s on the device %-4s the engine's last decision %-4s the rules want %s" % (target, f["device"], f["decided"], f["rules_want"]))
    counts = (w["applied"], w["duplicated"], w["resent_after_trouble"])
    print("  writes applied   %d; duplicated %d; re-sent after a restart, recovery or lost answer %d" % counts)
    for d in w["duplicated_at"]:
        print("    duplicated: %s = %s at %.1f s" % d)
    print("  recovery after the fault clears (to the engine's recovery line; next poll's request), log lines per episode:")
    for label, f in r["recovery"].items():
        if f["recovery_max"] is None:
            shown = "no trouble seen in %d" % f["no_trouble_seen"]
            verdict = ""
        else:
            shown = "median %.2f s, max %.2f s" % (f["recovery_median"], f["recovery_max"])
            verdict = " (target <= %.2f s: %s)" % (f["target"], mark(f["ok"]))
            if f["no_trouble_seen"]:
                shown += "; no trouble seen in %d" % f["no_trouble_seen"]
        asked = "" if f["next_poll_asked_max"] is None else "; polled again within %.2f s" % f["next_poll_asked_max"]
        lines = "/".join(str(n) for n in f["log_lines_per_episode"])
        print("    %-15s %2d x  %s%s%s; %s lines" % (label, f["episodes"], shown, verdict, asked, lines))
    m = r["rss"]
    if m:
        growth = m["growth_mb_per_hour"]
        shown = "n/a (too short)" if growth is None else "%+.2f MB/h (target <= 1 MB/h: %s)" % (growth, mark(growth <= 1))
        print(
            "  RSS              first %.1f MB, last %.1f MB, max %.1f MB (%d samples); growth after the warm-up %s"
            % (m["first_mb"], m["last_mb"], m["max_mb"], m["samples"], shown)
        )


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 tools/bench_chaos.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10, help="how long faults come (default 10)")
    p.add_argument("--fault", type=float, default=6, help="seconds each fault lasts (default 6)")
    p.add_argument("--quiet", type=float, default=6, help="seconds of calm after each (default 6)")
    p.add_argument("--flip", type=float, default=30, help="seconds between two flips of the Envoy's power (default 30)")
    p.add_argument("--warmup", type=float, default=5, help="seconds for the engine to start before the first fault (default 5)")
    p.add_argument("--settle", type=float, default=15, help="seconds of calm before the final check (default 15)")
    p.add_argument("--rss-every", type=float, default=10, help="seconds between two RSS samples (default 10)")
    p.add_argument("--rss-warmup", type=float, default=60, help="seconds of RSS left out of the growth (default 60)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--log", metavar="FILE", help="write the engine's lines there, each with its time in the soak")
    args = p.parse_args(argv)
    report = Soak(args).run()
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        show(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
