"""A restart changes nothing: `run` as a real process, stopped with SIGTERM or
SIGKILL and started again, against the simulators over loopback; rule files
edited while it runs; SIGHUP.  docs/service.md says what each case does."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

from simulators.envoy import EnvoySimulator
from simulators.evcc import EvccSimulator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAIN = os.path.join(ROOT, "main.py")
MODE = "evcc.loadpoints.1.mode"
RULES = """let surplus = -envoy.net_consumption
rule ev
  when surplus > 1.4kW for 3s
  until surplus < 300W for 4s
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
  hold 12s
"""


class Engine:
    """`main.py run` in a process of its own; its log lines as they come, with the time each came."""

    def __init__(self, folder):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JOURNAL_STREAM")}
        # Started from another folder: paths in site.json are the config's.
        self.proc = subprocess.Popen(
            [sys.executable, MAIN, "run", "--config", os.path.join(folder, "site.json")], stderr=subprocess.PIPE, text=True, env=env, cwd="/"
        )
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def wait_for(self, part, timeout=15):
        """The time the first line holding ``part`` came (fails after ``timeout``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for t, line in list(self.lines):
                if part in line:
                    return t
            if self.proc.poll() is not None and not self.thread.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError("no line with %r; the log:\n%s" % (part, self.text()))

    def said(self, part):
        return [line for _, line in self.lines if part in line]

    def text(self):
        return "\n".join(line for _, line in self.lines)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=15)
        self.thread.join(timeout=5)
        return self.proc.returncode


class Writes:
    """The evcc simulator's writes, each with the time the test saw it."""

    def __init__(self, evcc):
        self.evcc = evcc
        self.seen = []
        self.running = True
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        while self.running:
            for w in self.evcc.writes[len(self.seen) :]:
                self.seen.append((time.monotonic(), w[2]))
            time.sleep(0.02)

    def values(self):
        return [v for _, v in self.seen]

    def at(self, value):
        return [t for t, v in self.seen if v == value]


def site(tmp_path, envoy, evcc, rules=RULES, stale=3):
    (tmp_path / "ev.rules").write_text(rules)
    devices = {"envoy": {"url": envoy.url, "insecure_tls": True, "poll": 0.2, "timeout": 1}, "evcc": {"url": evcc.url, "poll": 0.2, "timeout": 1}}
    (tmp_path / "site.json").write_text(json.dumps({"rules": "ev.rules", "stale_after": stale, "devices": devices}))
    (tmp_path / "secrets.json").write_text(json.dumps({"envoy": {"token": envoy.token}}))
    return str(tmp_path)


def charging(tmp_path, envoy, evcc):
    """3.2 kW of export, an engine started on the site, and its first write (pv) seen."""
    envoy.set_power(production=4000, consumption=800)
    folder = site(tmp_path, envoy, evcc)
    writes = Writes(evcc)
    first = Engine(folder)
    first.wait_for('set "pv"')
    return folder, writes, first


def test_sigterm_inside_a_for_timer_and_a_hold_changes_nothing(tmp_path):
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator() as evcc:
        envoy.set_power(production=4000, consumption=800)  # 3.2 kW surplus
        folder = site(tmp_path, envoy, evcc)
        writes = Writes(evcc)
        first = Engine(folder)
        first.wait_for("INFO state: no saved state in %s/sunshift.state.json: a fresh start" % folder)
        pv = first.wait_for('set "pv"')
        envoy.set_power(production=800, consumption=800)  # the sun goes: `until` starts its 4 s
        pending = first.wait_for("ev: active -> pending-off")
        time.sleep(2 - (time.monotonic() - pending))  # 2 s of the 4
        assert first.stop() == 0
        assert first.said("INFO site: stopped by SIGTERM; state saved in %s/sunshift.state.json" % folder)
        second = Engine(folder)
        second.wait_for("state: restored from %s/sunshift.state.json, saved " % folder)
        off_decided = second.wait_for("ev: pending-off -> inactive: surplus 0 W < 300 W for 4s")
        assert off_decided - pending < 5.5  # the timer ran on: 4 s after it began, plus the restart
        second.wait_for('ev wants "off"; held for ')
        off = second.wait_for('set "off" (ev: decided ')
        assert second.said("surplus 0 W < 300 W for 4s; held by hold 12s until ")  # the decision, and why it waited
        assert 11.5 < off - pv < 14  # hold counted from the pv write, across the restart
        second.stop()
        writes.running = False
        # Nothing written at the restart: the wall box was set once each way.
        assert writes.values() == ["pv", "off"], second.text()
        assert not second.said("start ->")  # no rule began again


def test_sigkill_with_a_rule_active_writes_nothing_at_restart(tmp_path):
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator() as evcc:
        folder, writes, first = charging(tmp_path, envoy, evcc)
        time.sleep(0.5)
        first.stop(signal.SIGKILL)  # no goodbye, no last save: what was saved at the write counts
        second = Engine(folder)
        second.wait_for("state: restored from ")
        time.sleep(4)
        second.stop()
        writes.running = False
        assert writes.values() == ["pv"], second.text()
        assert not second.said("set ") and not second.said("start ->")


def test_sigkill_in_a_pending_for_timer_keeps_its_elapsed_time(tmp_path):
    rules = RULES.replace("for 3s", "for 6s").replace("  hold 12s\n", "")  # no hold: its count from the start would hide the timer
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator() as evcc:
        envoy.set_power(production=4000, consumption=800)
        folder = site(tmp_path, envoy, evcc, rules, stale=10)  # down less than the staleness limit: the timer runs on
        writes = Writes(evcc)
        first = Engine(folder)
        began = first.wait_for("ev: start -> pending-on")
        time.sleep(3.5)  # the change was saved at once (a board: within a minute)
        first.stop(signal.SIGKILL)
        second = Engine(folder)
        pv = second.wait_for('set "pv"')
        second.stop()
        writes.running = False
        assert 5.8 < pv - began < 8  # 6 s from the first start, not 6 s after the second
        assert writes.values() == ["pv"]


def test_a_restart_with_the_envoy_down_waits_for_it_then_goes_safe_as_ever(tmp_path):
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator() as evcc:
        folder, writes, first = charging(tmp_path, envoy, evcc)
        first.stop()
        # Down at the restart, back within its staleness limit: nothing is written.
        envoy.fail("refuse")
        second = Engine(folder)
        second.wait_for("WARN envoy: ")  # refused
        second.wait_for("ev: warming up: waits for the first value of envoy.net_consumption (its safe branch if none within 3s)")
        time.sleep(1.5)
        envoy.heal()
        second.wait_for("INFO envoy: answers again")
        time.sleep(2)
        second.stop()
        assert writes.values() == ["pv"], second.text()
        assert not second.said("stale:")
        # Down at the next restart and for longer than its limit: the safe branch, as while running.
        envoy.fail("refuse")
        third = Engine(folder)
        third.wait_for('set "off" (ev: stale: envoy.net_consumption has no value yet)')
        third.stop()
        writes.running = False
        assert writes.values() == ["pv", "off"]


def test_a_broken_state_file_is_said_and_the_engine_starts_fresh(tmp_path):
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator() as evcc:
        envoy.set_power(production=4000, consumption=800)
        folder = site(tmp_path, envoy, evcc)
        (tmp_path / "sunshift.state.json").write_text('{"sunshift": "engine state", "format": 1, "saved": 17')
        engine = Engine(folder)
        engine.wait_for("WARN state: %s/sunshift.state.json is not usable (not JSON: truncated or damaged); ignored: a fresh start" % folder)
        engine.wait_for('set "pv"')
        engine.stop()
        saved = json.loads((tmp_path / "sunshift.state.json").read_text())
        assert saved["sunshift"] == "engine state" and saved["targets"][0]["written"] == "pv"


def test_an_edited_rule_file_is_reloaded_and_unchanged_rules_keep_their_timers(tmp_path):
    night = "\nrule night\n  when evcc.loadpoints.1.vehicleSoc < 10%\n  then evcc.loadpoints.1.mode = now\n  priority 1\n"
    rules = RULES.replace("for 3s", "for 6s").replace("  hold 12s\n", "")
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator() as evcc:
        envoy.set_power(production=4000, consumption=800)
        folder = site(tmp_path, envoy, evcc, rules)
        engine = Engine(folder)
        began = engine.wait_for("ev: start -> pending-on")
        time.sleep(1)
        (tmp_path / "ev.rules").write_text(rules + "\nrule broken\n  when envoy.production >\n")
        engine.wait_for("WARN rules: %s/ev.rules:10:1: expected a value, got the end of the file" % folder)
        engine.wait_for("WARN rules: not reloaded (a rule file changed): 1 error; the running rules stay")
        (tmp_path / "ev.rules").write_text(rules + night)
        engine.wait_for("INFO rules: reloaded (a rule file changed): 1 unchanged (their state and timers carry on); changed or new, starting fresh: night")
        pv = engine.wait_for('set "pv"')
        assert 5.8 < pv - began < 7.5  # ev's timer ran on through both edits
        engine.proc.send_signal(signal.SIGHUP)
        engine.wait_for("INFO rules: reloaded (SIGHUP): 2 unchanged")
        assert engine.proc.poll() is None  # SIGHUP reloads; it does not end the process
        assert engine.stop() == 0
