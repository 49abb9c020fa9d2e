"""`run` as a service on a Pi: the systemd unit, the journal, `status`, and the
MQTT client ids of the other commands (docs/service.md)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from simulators.envoy import EnvoySimulator
from simulators.evcc import EvccSimulator
from test_restart import RULES, Engine, site

from sunshift.host import cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAIN = os.path.join(ROOT, "main.py")
UNIT = os.path.join(ROOT, "examples", "sunshift.service")


def unit_sections(text):
    """{section: {key: value}} of a systemd unit (comments and blank lines left out)."""
    sections = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current[key] = value
    return sections


def test_the_systemd_unit_runs_the_engine_as_its_own_user_and_restarts_it(tmp_path):
    text = open(UNIT).read()
    unit = unit_sections(text)
    service = unit["Service"]
    assert service["User"] == "sunshift" and service["WorkingDirectory"] == "/opt/sunshift"
    assert service["Restart"] == "on-failure" and service["KillSignal"] == "SIGTERM"
    assert service["ExecStart"].endswith("/opt/sunshift/main.py run --config /opt/sunshift/site.json")
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert unit["Install"]["WantedBy"] == "multi-user.target" and "network-online.target" in unit["Unit"]["After"]
    # systemd's own check, with the paths of this checkout (it wants the programs to exist).
    tool = shutil.which("systemd-analyze")
    local = text.replace("/opt/sunshift/.venv/bin/python", sys.executable).replace("/opt/sunshift", ROOT)
    (tmp_path / "sunshift.service").write_text(local)
    if tool is not None:
        done = subprocess.run([tool, "verify", str(tmp_path / "sunshift.service")], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "sunshift.service" not in done.stderr, done.stderr
    # Whatever the machine: the command the unit starts is a real one of this checkout.
    start = local.split("ExecStart=")[1].split("\n")[0].split()
    assert os.path.exists(start[0]) and os.path.exists(start[1]) and start[2] == "run"


def test_under_the_journal_lines_carry_a_priority_and_no_time(tmp_path):
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator() as evcc:
        envoy.set_power(production=4000, consumption=800)
        folder = site(tmp_path, envoy, evcc)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["JOURNAL_STREAM"] = "8:12345"  # what systemd sets for a service whose output goes to the journal
        proc = subprocess.Popen([sys.executable, MAIN, "run", "--config", folder + "/site.json"], stderr=subprocess.PIPE, text=True, env=env, cwd="/")
        time.sleep(3)
        envoy.fail("refuse")
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
        lines = err.splitlines()
        assert lines[0] == "<6>INFO site: running 1 rules on 2 devices; state in %s/sunshift.state.json" % folder
        assert "<6>INFO ev: start -> pending-on: surplus 3.2 kW > 1.4 kW for only 0s of 3s" in lines
        assert [line for line in lines if line.startswith("<4>WARN envoy: envoy ")], err
        assert lines[-1] == "<6>INFO site: stopped by SIGTERM; state saved in %s/sunshift.state.json" % folder
        assert all(line[:1] == "<" for line in lines)  # no time of our own: the journal stamps each line


def test_status_shows_the_running_engines_rules_timers_targets_and_devices(tmp_path):
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator() as evcc:
        envoy.set_power(production=4000, consumption=800)
        folder = site(tmp_path, envoy, evcc)
        engine = Engine(folder)
        engine.wait_for('set "pv"')
        envoy.set_power(production=800, consumption=800)
        engine.wait_for("ev: active -> pending-off")
        time.sleep(2.5)  # a change of a rule's state is saved within 2 s (a write at once)
        done = subprocess.run([sys.executable, MAIN, "status", "--config", folder + "/site.json"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].startswith("engine: running (pid %d); state saved " % engine.proc.pid)
        assert lines[0].endswith(" in %s/sunshift.state.json" % folder)
        rule = next(line for line in lines if line.startswith("  ev "))
        assert " pending-off " in rule and "surplus 0 W < 300 W for only 0s of 4s; timer " in rule and " of 4s (" in rule
        target = next(line for line in lines if line.startswith("  evcc.loadpoints.1.mode"))
        assert '"pv"' in target and "; hold 12s: " in target and target.endswith(" left")
        assert "  envoy            ok" in lines and "  evcc             ok" in lines
        engine.stop()
        done = subprocess.run([sys.executable, MAIN, "status", "--config", folder + "/site.json"], capture_output=True, text=True, timeout=30)
        assert done.stdout.startswith("engine: not running (its last process, %d, is gone)" % engine.proc.pid)


def test_status_without_a_state_file_says_so(tmp_path, capsys):
    (tmp_path / "site.json").write_text(json.dumps({"rules": "x.rules", "devices": {"evcc": {"url": "http://127.0.0.1:9"}}}))
    assert cli.main(["status", "--config", str(tmp_path / "site.json")]) == 1
    err = capsys.readouterr().err
    assert "sunshift status: no saved state in %s/sunshift.state.json: a fresh start" % tmp_path in err
    assert 'or its config names another "state"' in err


def test_paths_in_the_config_are_the_configs_not_the_current_folders(tmp_path):
    from sunshift.site import config

    (tmp_path / "site.json").write_text(json.dumps({"rules": ["rules", "/etc/x.rules"], "state": "var/state.json", "devices": {"evcc": {"url": "http://e"}}}))
    site_ = config.load(str(tmp_path / "site.json"))
    assert site_.rules == [str(tmp_path / "rules"), "/etc/x.rules"] and site_.state == str(tmp_path / "var" / "state.json")
    assert site_.rules_as_written == ["rules", "/etc/x.rules"]


def test_read_has_its_own_mqtt_client_id_and_leaves_the_running_engine_connected(tmp_path, broker):
    rules = RULES
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator(broker=("127.0.0.1", broker.port), topic="evcc-svc", interval=0.3):
        envoy.set_power(production=4000, consumption=800)
        (tmp_path / "ev.rules").write_text(rules)
        devices = {
            "envoy": {"url": envoy.url, "insecure_tls": True, "poll": 0.2},
            "evcc": {"type": "evcc", "transport": "mqtt", "topic": "evcc-svc"},
        }
        mqtt = {"host": "127.0.0.1", "port": broker.port, "client_id": "sunshift-svc"}
        (tmp_path / "site.json").write_text(json.dumps({"rules": "ev.rules", "mqtt": mqtt, "devices": devices}))
        (tmp_path / "secrets.json").write_text(json.dumps({"envoy": {"token": envoy.token}}))
        engine = Engine(str(tmp_path))
        engine.wait_for("INFO mqtt: ")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run(
            [sys.executable, MAIN, "read", "evcc", "--config", str(tmp_path / "site.json")], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert '"evcc.loadpoints.1.mode"' in done.stdout
        time.sleep(1)
        engine.stop()
        # The broker never dropped the engine's link for the read's.
        assert not engine.said("WARN mqtt:"), engine.text()
