"""The command line, run as users run it: `python3 main.py ...` in a subprocess."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAIN = os.path.join(ROOT, "main.py")
CLOUDY = os.path.join(ROOT, "tests", "traces", "cloudy_day.csv")


def sunshift(*args, cwd=None):
    """Run main.py with a clean environment (no installed package, no PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, MAIN, *args], capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=120)


def test_check_passes_the_shipped_rules():
    r = sunshift("check", "rules")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok: 5 rules, 1 let in 4 files")
    # and against the example site's devices, as a user checks before `run`
    # (its "rules" is the folder beside it: examples/rules is a link to rules/)
    r = sunshift("check", "--config", "examples/site.json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["ok: examples/site.json: 3 devices (emsesp, envoy, evcc)", "ok: 5 rules, 1 let in 4 files"]


def test_a_configs_rules_count_from_the_configs_folder(tmp_path):
    for name in ("site.json", "secrets.json"):
        (tmp_path / name).write_text(open(os.path.join(ROOT, "examples", name)).read())
    r = sunshift("check", "--config", str(tmp_path / "site.json"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    wanted = '%s:1:1: no such file or folder (%s says "rules": ["rules"], from its own folder)' % (tmp_path / "rules", tmp_path / "site.json")
    assert r.stdout.splitlines() == [wanted]


def test_check_knows_what_the_devices_offer(tmp_path):
    # The mistakes a new user made, each found before anything runs (issue 16).
    path = tmp_path / "mine.rules"
    path.write_text(
        "let surplus = -envoy.net_consumtion\n"
        "rule ev\n  when avg(surplus, 1m) > 1.4kW for 2m\n  then evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode = fast\n"
        "rule tank\n  when emsesp.boiler.dhw.curtemp < 55kW\n  then evcc.loadpoints.1.charge_mode = pv\n  else evcc.loadpoints.1.charge_mode = off\n"
        "rule car\n  when envoy.production > 1.4kWh\n  then emsesp.mixer.hc1.seltemp = 21\n  else emsesp.mixer.hc1.seltemp = 20\n"
    )
    r = sunshift("check", "--config", "examples/site.json", str(path))
    assert r.returncode == 1 and r.stderr == "6 errors\n" and "Traceback" not in r.stderr
    assert r.stdout.splitlines() == [
        "%s:1:16: envoy.net_consumtion is not a signal the Envoy offers; did you mean envoy.net_consumption?" % path,
        "%s:5:33: evcc would refuse this: evcc.loadpoints.1.mode needs one of off pv minpv now smart, not 'fast'" % path,
        "%s:7:34: cannot compare a temperature (emsesp.boiler.dhw.curtemp) with a power (55kW)" % path,
        "%s:8:8: evcc.loadpoints.1.charge_mode is not a writable evcc setting; did you mean evcc.loadpoints.1.mode?" % path,
        "%s:9:8: evcc.loadpoints.1.charge_mode is not a writable evcc setting; did you mean evcc.loadpoints.1.mode?" % path,
        "%s:11:25: cannot compare a power (envoy.production) with an energy (1.4kWh)" % path,
    ]


def test_check_works_from_another_folder(tmp_path):
    r = sunshift("check", os.path.join(ROOT, "rules"), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr


def test_check_reports_every_error_with_its_place(tmp_path):
    bad = tmp_path / "bad.rules"
    bad.write_text("rule r\n  whne a.x\n  then a.b = 1\nrule s\n  when a.y > 1kw\n  then a.b = 2\n")
    good = tmp_path / "good.rules"
    good.write_text("rule t\n  when a.z\n  then c.d = 1\n  else c.d = 0\n")
    r = sunshift("check", str(tmp_path))
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "%s:2:3: unknown clause 'whne'; did you mean 'when'?" % bad,
        "%s:5:15: unknown unit 'kw'; did you mean 'kW'?" % bad,
    ]
    assert r.stderr.strip() == "2 errors"
    assert "Traceback" not in r.stdout + r.stderr


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe\x00garbage",
        b"rule r\n  when (a.x > 1\n",
        b"rule r\n  when a.x > 1 for\n",
        ("# " + "x" * 1021 + "\n").encode() * 1024,
        b"\x00" * 100,
        b"rule",
        b"let",
        b"rule r\n  when " + b"(" * 500 + b"a.x",
    ],
    # Short ids: pytest would otherwise put a 1 MB parameter in the environment.
    ids=["garbage", "open-paren", "for-without-duration", "1MB", "nul-bytes", "rule-alone", "let-alone", "500-parens"],
)
def test_bad_files_never_give_a_traceback(tmp_path, content):
    path = tmp_path / "x.rules"
    path.write_bytes(content)
    r = sunshift("check", str(path))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stdout.startswith(str(path) + ":"), r.stdout


def test_warnings_do_not_fail_check(tmp_path):
    path = tmp_path / "w.rules"
    path.write_text("rule r\n  when a.x\n  then t.v = 1\n")
    r = sunshift("check", str(path))
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert "%s:1:6: warning: no rule sets t.v back with 'else': it keeps its last value when 'r' turns off" % path in lines
    # devices of one's own naming: a warning each without --config, which would check them
    assert (
        "%s:2:8: warning: no device 'a' among the default names (envoy, evcc, emsesp, enode); check --config site.json checks the names of your own devices"
        % path
        in lines
    )
    assert "(3 warnings)" in r.stdout


def test_sim_prints_one_json_line_per_change():
    r = sunshift("sim", "--rules", "rules", "--trace", CLOUDY, "--start", "2026-06-21T06:00")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines and all(list(d) == ["t", "target", "value", "rule", "reason"] for d in lines)
    assert lines[0]["t"] == 0.0
    pv = [d for d in lines if d["value"] == "pv"]
    assert pv[0]["rule"] == "ev_surplus" and pv[0]["reason"].startswith("avg(surplus, 1m) ")
    assert "simulated 14h (5041 rows" in r.stderr


def test_sim_writes_out_and_logs_decisions_with_verbose(tmp_path):
    out = tmp_path / "changes.jsonl"
    r = sunshift("sim", "--rules", "rules", "--trace", CLOUDY, "--start", "2026-06-21T06:00", "--out", str(out), "-v")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert len(out.read_text().splitlines()) >= 8
    assert "t=0 06:00 ev_surplus: start -> inactive: avg(surplus, 1m) -452 W <= 1.4 kW" in r.stderr
    assert "t=0 06:00 battery_evening: start -> inactive: outside 14:00-20:00 (now 06:00)" in r.stderr
    assert "ev_surplus: pending-on -> active: avg(surplus, 1m)" in r.stderr


def test_sim_start_time_moves_the_windows():
    early = sunshift("sim", "--rules", "rules", "--trace", CLOUDY, "--start", "2026-06-21T06:00")
    late = sunshift("sim", "--rules", "rules", "--trace", CLOUDY, "--start", "2026-06-21T20:00")
    assert early.stdout != late.stdout
    # Starting at 20:00, the day's sun falls outside ev_surplus's 07:00-21:00 mostly.
    assert '"value": "pv"' in early.stdout


def test_sim_stale_after_changes_the_limit():
    r = sunshift("sim", "--rules", "rules", "--trace", CLOUDY, "--start", "2026-06-21T06:00", "--stale-after", "10m")
    assert r.returncode == 0
    assert "stale:" not in r.stdout  # the 6-minute Envoy gap is within 10 minutes


def test_sim_reports_trace_and_rule_errors_cleanly(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("t,envoy.net_consumption\n0,1\n10,x\n")
    r = sunshift("sim", "--rules", "rules", "--trace", str(trace))
    assert r.returncode == 1
    assert "%s:3:4: column 'envoy.net_consumption' holds numbers, but this cell is 'x'" % trace in r.stderr
    assert "Traceback" not in r.stderr
    rules = tmp_path / "bad.rules"
    rules.write_text("rule r\n  when\n")
    r = sunshift("sim", "--rules", str(rules), "--trace", CLOUDY)
    assert r.returncode == 1
    assert "%s:2:3: 'when' needs a condition" % rules in r.stderr


def test_sim_warns_about_signals_the_trace_lacks(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("t,envoy.net_consumption\n0,-3000\n")
    r = sunshift("sim", "--rules", "rules", "--trace", str(trace))
    assert r.returncode == 0
    assert "warning: no column for evcc.loadpoints.1.chargePower, which the rules read" in r.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "usage: sunshift"),
        (["frobnicate"], "unknown command 'frobnicate'"),
        (["check"], "check needs at least one rule file"),
        (["sim", "--rules", "rules"], "sim needs --rules PATH... and either --trace FILE.csv or --scenario NAME"),
        (["sim", "--rules", "rules", "--trace", CLOUDY, "--start", "noon"], "is not a start time"),
        (["sim", "--rules", "rules", "--trace", CLOUDY, "--stale-after", "5"], "--stale-after needs a duration"),
        (["sim", "--bogus"], "unknown option --bogus"),
    ],
)
def test_usage_errors_exit_2(args, message):
    r = sunshift(*args)
    assert r.returncode == 2
    assert message in r.stdout + r.stderr


def test_version_and_help():
    assert sunshift("version").stdout.startswith("sunshift 0.")
    r = sunshift("--help")
    assert r.returncode == 0 and "check PATH..." in r.stdout
