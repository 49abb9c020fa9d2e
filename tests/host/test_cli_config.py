"""Bad config, secrets and rule files through the command line, as users meet
them: `run`, `check` and `read` print ``file: key: message`` (or
``path:line:col: message``) and exit 1; never a traceback, never an engine
that started, never a wait for ever.  The value-by-value cases are in
tests/portable/test_config.py; here are the ones that need a real process and
a real file system (FIFOs, symbolic links, a 50 MB file) (issue 15, point 2)."""

import json
import os
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAIN = os.path.join(ROOT, "main.py")
RULE = "rule ev\n  when envoy.net_consumption < -1400\n  then evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode = off\n"
# Nothing listens on port 9 of loopback: an engine that started would only log failures.
DEVICES = {"envoy": {"url": "http://127.0.0.1:9", "poll": 5}, "evcc": {"url": "http://127.0.0.1:9"}}


def sunshift(*args, timeout=30):
    """main.py with no terminal on stdin, a clean environment and a time limit."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, MAIN, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL)


def write_site(tmp_path, secrets=None, **top):
    """site.json (rules in ev.rules beside it) with ``top`` over the defaults; its path."""
    (tmp_path / "ev.rules").write_text(RULE)
    data = {"rules": "ev.rules", "devices": DEVICES}
    data.update(top)
    (tmp_path / "site.json").write_text(json.dumps(data))
    if secrets is not None:
        (tmp_path / "secrets.json").write_text(json.dumps(secrets))
    return str(tmp_path / "site.json")


def refused(r, message):
    """The process exited 1 with ``message`` and no traceback, before the engine ran."""
    text = r.stdout + r.stderr
    assert r.returncode == 1, text
    assert message in text, text
    assert "Traceback" not in text and "running " not in text, text


# (top-level keys, the device entries to change, what stderr says): each one a
# traceback before (AttributeError, OverflowError after `running`, ValueError
# after start, TypeError), or accepted and wrong.
CASES = [
    ({}, {"envoy": {"url": 12345}}, 'site.json: devices.envoy.url: a URL in quotes, like "http://192.168.1.20", not 12345'),
    ({}, {"envoy": {"url": "http://127.0.0.1:9", "poll": 1e308}}, "site.json: devices.envoy.poll: 1e+308 s is out of range"),
    ({"timezone": "Mars/Olympus"}, {}, 'site.json: timezone: "Mars/Olympus" is not a time zone'),
    ({"timezone": 5}, {}, "site.json: timezone: 5 is not a time zone"),
    ({"rules": 42}, {}, "site.json: rules: a rule file or folder in quotes, or a list of them"),
    ({"rules": None}, {}, "site.json: rules: null is not a value here"),
    ({"mqtt": {"host": "127.0.0.1", "port": "1883"}}, {}, 'site.json: mqtt.port: a whole number from 1 to 65535, not "1883"'),
    ({"mqtt": {"host": 127}}, {}, "site.json: mqtt.host: a host name or address in quotes"),
    ({"mqtt": {"host": "127.0.0.1", "keepalive": "30 seconds"}}, {}, "site.json: mqtt.keepalive: '30 seconds' is not a duration"),
    ({"log_level": "LOUD"}, {}, "site.json: log_level: 'debug', 'info', 'warn', 'warning' or 'error', not \"LOUD\""),
    ({}, {"emsesp": {"url": "http://127.0.0.1:9", "devices": "boiler"}}, 'site.json: devices.emsesp.devices: a list like ["boiler"], not "boiler"'),
    ({}, {"emsesp": {"url": "http://127.0.0.1:9", "devices": [1, 2]}}, "site.json: devices.emsesp.devices[0]: 'boiler', 'thermostat'"),
    ({}, {"envoy": {"url": "http://127.0.0.1:9", "timeout": 1e308}}, "site.json: devices.envoy.timeout: 1e+308 s is out of range"),
    ({}, {"envoy": {"url": "ftp://127.0.0.1"}}, "site.json: devices.envoy.url: ftp:// is not a scheme sunshift speaks"),
    ({}, {"envoy": {"url": "127.0.0.1"}}, 'site.json: devices.envoy.url: "127.0.0.1" has no http:// or https:// in front'),
    ({}, {"envoy": {"url": "http://127.0.0.1:99999"}}, 'the port "99999" is not a number from 1 to 65535'),
    (
        {},
        {"envoy": {"url": "http://127.0.0.1:9", "insecure_tls": "false"}},
        'site.json: devices.envoy.insecure_tls: true or false (JSON, without quotes), not "false"',
    ),
    ({}, {"envoy": {"url": "http://127.0.0.1:9", "insecure_tls": "no"}}, "site.json: devices.envoy.insecure_tls: true or false"),
    ({}, {"envoy": {"url": "http://127.0.0.1:9", "insecure_tls": "0"}}, "site.json: devices.envoy.insecure_tls: true or false"),
]


@pytest.mark.parametrize("top, devices, message", CASES)
def test_run_and_check_refuse_a_bad_config_with_file_key_message(tmp_path, top, devices, message):
    data = dict(top)
    data["devices"] = dict(DEVICES, **devices)
    config = write_site(tmp_path, **data)
    refused(sunshift("run", "--config", config, "--dry-run"), message)
    refused(sunshift("check", "--config", config), message)


def test_read_refuses_a_bad_config_too(tmp_path):
    config = write_site(tmp_path, devices=dict(DEVICES, envoy={"url": 12345}))
    r = sunshift("read", "envoy", "--config", config)
    refused(r, "sunshift read envoy: %s: devices.envoy.url: a URL in quotes" % config)


def test_a_keepalive_with_a_unit_is_taken(tmp_path):
    config = write_site(tmp_path, mqtt={"host": "127.0.0.1", "keepalive": "30s"})
    r = sunshift("check", "--config", config)
    assert r.returncode == 0 and "ok: %s: 2 devices (envoy, evcc)" % config in r.stdout, r.stdout + r.stderr


def test_infinite_staleness_is_refused(tmp_path):
    # JSON's 1e999 reads as infinity: staleness was off, the rule stayed pv while the Envoy was down.
    (tmp_path / "ev.rules").write_text(RULE)
    (tmp_path / "site.json").write_text('{"rules": "ev.rules", "stale_after": 1e999, "devices": %s}' % json.dumps(DEVICES))
    refused(
        sunshift("run", "--config", str(tmp_path / "site.json"), "--dry-run"), "site.json: stale_after: inf s is out of range: a duration from 1 s to 86400 s"
    )


def test_duplicate_keys_and_a_byte_order_mark(tmp_path):
    config = write_site(tmp_path)
    (tmp_path / "site.json").write_text('{"rules": "ev.rules",\n "devices": {"envoy": {"url": "http://127.0.0.1:9"}},\n "rules": "other.rules"}')
    refused(sunshift("check", "--config", config), '%s:3:2: the key "rules" is here twice' % config)
    (tmp_path / "site.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"rules": "ev.rules", "devices": DEVICES}).encode())
    r = sunshift("check", "--config", config)
    assert r.returncode == 0 and "ok: 1 rule, 0 lets in 1 file" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize(
    "secrets, message",
    [
        ({"envoy": {"token": 12345}}, "secrets.json: envoy.token: a text in quotes; this is a number (its value is not shown)"),
        ({"envoy": {"token": {"value": "abc"}}}, "secrets.json: envoy.token: a text in quotes; this is not a text"),
        ({"envoy": {"token": "abc"}, "enovy": {"token": "abc"}}, "secrets.json: enovy: no device of %s has this name; did you mean 'envoy'?"),
        ({"envoy": {"token": "abc", "user": "me"}}, "secrets.json: envoy: unknown key 'user' (known: token)"),
    ],
)
def test_bad_secrets_are_refused_without_showing_them(tmp_path, secrets, message):
    config = write_site(tmp_path, secrets)
    message = message.replace("%s", config) if "%s" in message else message
    r = sunshift("run", "--config", config, "--dry-run")
    refused(r, message)
    assert "12345" not in r.stderr and "abc" not in r.stderr


def test_a_config_that_is_a_fifo_is_refused_at_once(tmp_path):
    # Reading a FIFO waits for a writer for ever; the config is checked with stat first.
    os.mkfifo(str(tmp_path / "site.json"))
    started = time.monotonic()
    for command in (("run", "--config"), ("check", "--config"), ("read", "envoy", "--config")):
        r = sunshift(*command, str(tmp_path / "site.json"), timeout=20)
        refused(r, "site.json: cannot read the config file: not a regular file (a FIFO, a device or a socket)")
    assert time.monotonic() - started < 15


def test_a_secrets_file_that_is_a_fifo_is_refused_at_once(tmp_path):
    config = write_site(tmp_path)
    os.mkfifo(str(tmp_path / "secrets.json"))
    refused(sunshift("run", "--config", config, "--dry-run", timeout=20), "secrets.json: cannot read the secrets file: not a regular file")


def test_a_rule_file_that_is_a_fifo_is_a_problem_not_a_wait(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ev.rules").write_text(RULE)
    os.mkfifo(str(rules / "x.rules"))
    problem = "%s:1:1: not a regular file (a FIFO, a device or a socket)" % (rules / "x.rules")
    refused(sunshift("check", str(rules), timeout=20), problem)
    refused(sunshift("check", str(rules / "x.rules"), timeout=20), problem)
    config = write_site(tmp_path, rules="rules")
    refused(sunshift("run", "--config", config, "--dry-run", timeout=20), problem)


def test_symbolic_links_that_lead_nowhere_in_a_rules_folder(tmp_path):
    # Both ended in a TypeError in `check` and `run`.
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ev.rules").write_text(RULE)
    os.symlink("missing.rules", str(rules / "dead.rules"))
    os.symlink("loop.rules", str(rules / "loop.rules"))
    os.symlink("..", str(rules / "up.rules"))  # a folder: not walked into
    r = sunshift("check", str(rules))
    refused(r, "%s:1:1: a symbolic link to a file that does not exist; remove it, or point it at a rule file" % (rules / "dead.rules"))
    assert "%s:1:1: a loop of symbolic links; remove it, or point it at a rule file" % (rules / "loop.rules") in r.stdout
    assert "%s:1:1: a folder, not a file" % (rules / "up.rules") in r.stdout
    config = write_site(tmp_path, rules="rules")
    refused(sunshift("run", "--config", config, "--dry-run"), "a loop of symbolic links")
    os.symlink("self", str(tmp_path / "self"))
    refused(sunshift("check", str(tmp_path / "self")), "%s:1:1: a loop of symbolic links" % (tmp_path / "self"))


def test_a_50_mb_config_is_refused_before_it_is_read(tmp_path):
    # It took 42 s and 372 MB before it was refused; now stat says its size first.
    path = tmp_path / "site.json"
    with open(path, "w") as f:
        f.write('{"rules": "ev.rules", "devices": %s, "pad": [' % json.dumps(DEVICES))
        f.write("0," * (25 * 1024 * 1024))
        f.write("0]}")
    size = os.path.getsize(path)
    assert size > 50 * 1024 * 1024
    started = time.monotonic()
    r = sunshift("run", "--config", str(path), "--dry-run", timeout=30)
    refused(r, "site.json: the config file is %d bytes; at most 1048576 (1 MB) are read" % size)
    assert time.monotonic() - started < 5
