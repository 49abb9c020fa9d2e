"""`run --dry-run` and `read` as users run them, against the simulators."""

import json
import os
import signal
import subprocess
import sys
import time

from simulators.emsesp import EmsEspSimulator
from simulators.envoy import EnvoySimulator
from simulators.evcc import EvccSimulator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAIN = os.path.join(ROOT, "main.py")
RULES = """
let surplus = -envoy.net_consumption
rule ev
  when surplus > 1.4kW
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
"""


def sunshift(*args, timeout=60):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # No terminal on stdin: `read --url` would ask for a token there.
    return subprocess.run([sys.executable, MAIN, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL)


def write_site(tmp_path, envoy, evcc, ems=None):
    (tmp_path / "site.rules").write_text(RULES)
    devices = {"envoy": {"url": envoy.url, "insecure_tls": True, "poll": 0.2}, "evcc": {"url": evcc.url, "poll": 0.2}}
    secrets = {"envoy": {"token": envoy.token}}
    if ems:
        devices["emsesp"] = {"url": ems.url}
        secrets["emsesp"] = {"token": "test-emsesp-token"}  # a section for a device the config lacks is refused
    (tmp_path / "site.json").write_text(json.dumps({"rules": str(tmp_path / "site.rules"), "devices": devices}))
    (tmp_path / "secrets.json").write_text(json.dumps(secrets))
    return str(tmp_path / "site.json")


def test_run_dry_run_logs_writes_and_sends_none(tmp_path):
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator() as evcc:
        envoy.set_power(production=4000, consumption=800)
        config = write_site(tmp_path, envoy, evcc)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        proc = subprocess.Popen([sys.executable, MAIN, "run", "--config", config, "--dry-run"], stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert 'evcc.loadpoints.1.mode: dry-run: would set "pv" (ev: surplus 3.2 kW > 1.4 kW)' in err
        assert "(dry run: nothing is written)" in err
        assert evcc.writes == [] and not [r for r in evcc.requests if r.method == "POST"]
        assert envoy.token not in err


def test_read_prints_every_signal_from_the_config(tmp_path):
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator() as evcc, EmsEspSimulator() as ems:
        config = write_site(tmp_path, envoy, evcc, ems)
        r = sunshift("read", "envoy", "--config", config)
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        # The CTs from their readings, the energy counters, each inverter's last report.
        assert {k: got[k] for k in ("envoy.net_consumption", "envoy.production", "envoy.total_consumption")} == {
            "envoy.net_consumption": -36,
            "envoy.production": 489,
            "envoy.total_consumption": 453,
        }
        assert got["envoy.production.today"] == 4425 and got["envoy.import.lifetime"] == 3738205 and got["envoy.export.lifetime"] == 1776769
        assert len([k for k in got if k.startswith("envoy.inverters.")]) == 7 and got["envoy.inverters.121823030072.power"] >= 0
        r = sunshift("read", "evcc", "--config", config)
        assert json.loads(r.stdout)["evcc.loadpoints.1.mode"] == "off"
        r = sunshift("read", "emsesp", "--config", config)
        assert json.loads(r.stdout)["emsesp.boiler.dhw.seltemp"] == 50
        r = sunshift("read", "heatpump", "--config", config)
        assert r.returncode == 1 and "has no device 'heatpump'" in r.stderr


def test_read_without_a_config(tmp_path):
    with EnvoySimulator("3.9.36") as envoy:
        r = sunshift("read", "envoy", "--url", envoy.url)
        got = json.loads(r.stdout)
        assert r.returncode == 0 and got["envoy.production"] == 1271 and got["envoy.production.today"] == 1460
        assert len([k for k in got if k.startswith("envoy.inverters.")]) == 12 and not [k for k in got if "battery" in k]
        envoy.fail("http503")
        r = sunshift("read", "envoy", "--url", envoy.url)
        assert r.returncode == 1 and "sunshift read envoy: envoy probe: the device failed (HTTP" in r.stderr
        assert "Traceback" not in r.stderr


def test_run_refuses_a_config_that_holds_a_secret(tmp_path):
    (tmp_path / "site.json").write_text(json.dumps({"devices": {"envoy": {"url": "http://e", "token": "abc123"}}}))
    r = sunshift("run", "--config", str(tmp_path / "site.json"))
    assert r.returncode == 1
    assert "devices.envoy.token: secrets go in the secrets file" in r.stderr and "abc123" not in r.stderr


def test_run_refuses_rules_for_devices_the_site_lacks(tmp_path):
    with EnvoySimulator("7.6.175_with_cts") as envoy, EvccSimulator() as evcc:
        config = write_site(tmp_path, envoy, evcc)
        (tmp_path / "site.rules").write_text(RULES + "rule hw\n  when surplus > 1kW\n  then heatpump.dhw.seltemp = 60\n  else heatpump.dhw.seltemp = 50\n")
        r = sunshift("run", "--config", config)
        assert r.returncode == 1
        assert "site.rules:9:8: the site has no device 'heatpump' (devices: envoy, evcc)" in r.stderr


def test_read_takes_a_token_from_a_file_or_the_environment_never_the_command_line(tmp_path):
    with EnvoySimulator("7.6.175_with_cts") as envoy:
        r = sunshift("read", "envoy", "--url", envoy.url, "--insecure", "--token", envoy.token)
        assert r.returncode == 2 and "--token would show the token to every user of this computer" in r.stderr
        assert "--token-file FILE" in r.stderr and "SUNSHIFT_TOKEN" in r.stderr and envoy.token not in r.stderr
        (tmp_path / "token").write_text(envoy.token + "\n")
        r = sunshift("read", "envoy", "--url", envoy.url, "--insecure", "--token-file", str(tmp_path / "token"))
        assert r.returncode == 0, r.stderr
        assert "envoy.net_consumption" in json.loads(r.stdout)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["SUNSHIFT_TOKEN"] = envoy.token
        done = subprocess.run(
            [sys.executable, MAIN, "read", "envoy", "--url", envoy.url, "--insecure"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        (tmp_path / "empty").write_text("\n")
        r = sunshift("read", "envoy", "--url", envoy.url, "--token-file", str(tmp_path / "empty"))
        assert r.returncode == 2 and "the file is empty" in r.stderr


def test_read_emsesp_lists_every_device_the_gateway_has_and_what_is_writable(tmp_path):
    with EmsEspSimulator(bool_format="1/0") as ems:
        (tmp_path / "token").write_text("test-emsesp-token")
        r = sunshift("read", "emsesp", "--url", ems.url, "--token-file", str(tmp_path / "token"))
        assert r.returncode == 0, r.stderr
        signals = json.loads(r.stdout)
        paths = [q.path for q in ems.requests]
    assert "/api/system/info" in paths and "/api/analogsensor/entities" in paths and "/api/custom/entities" in paths
    assert signals["emsesp.analogsensor.relay1"] == 0 and signals["emsesp.temperaturesensor.outdoor"] == 7.5
    assert signals["emsesp.custom.sgready"] is False and signals["emsesp.boiler.burngas"] is False  # 1/0, typed boolean by entities
    assert signals["emsesp.boiler.dhw.seltemp"] == 50
    assert "  emsesp.analogsensor.relay1  number 0-1" in r.stderr and "  emsesp.boiler.dhw.seltemp  number" in r.stderr
    assert "emsesp.temperaturesensor.outdoor " not in r.stderr and "emsesp.boiler.dhw.curtemp " not in r.stderr
