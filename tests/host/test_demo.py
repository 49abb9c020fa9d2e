"""`demo` as a newcomer runs it: the simulators, Mosquitto and the real Runner
over loopback sockets; the same decisions as `sim` on the same scenario; a
busy port named; Ctrl-C leaving nothing behind."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from simulators.broker import find_mosquitto
from test_cli import MAIN, ROOT, sunshift

DECISION = re.compile(r"^(\d\d:\d\d)  (\S+)\s+(?:= (\S+)|\S+ -> (\S+))\s+(\w+): (.*)$")


def decisions(stdout):
    """[(clock, target, value, rule, reason)] of the demo's decision lines."""
    out = []
    for line in stdout.splitlines():
        m = DECISION.match(line)
        if m:
            out.append((m.group(1), m.group(2), m.group(3) or m.group(4), m.group(5), m.group(6)))
    return out


def simulated(scenario, step="10s", rules="rules"):
    r = sunshift("sim", "--rules", rules, "--scenario", scenario, "--step", step, "-q")
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        d = json.loads(line)
        t = int(d["t"])
        value = d["value"]
        shown = "true" if value is True else "false" if value is False else str(value)
        out.append(("%02d:%02d" % (t // 3600, t % 3600 // 60), d["target"], shown, d["rule"], d["reason"]))
    return out


# What the simulators hold before the demo starts (the demo prints "0 -> 30" and
# the like).  The engine reads these back at its start and writes only what
# differs; `sim` has no devices to read and writes every target's first value.
INITIAL = {"evcc.loadpoints.1.mode": "off", "evcc.site.batteryDischargeControl": "false", "evcc.site.prioritySoc": "0", "emsesp.boiler.dhw.seltemp": "50"}


def expected(decisions):
    """The decisions of `sim` a real start makes: not the first writes of values the devices already hold."""
    return [d[:4] for d in decisions if not (d[0] == "00:00" and INITIAL.get(d[1]) == d[2])]


def demo(*args, timeout=300):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, MAIN, "demo", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)


def test_the_demo_decides_over_real_sockets_as_sim_does(tmp_path):
    picture = tmp_path / "day.svg"
    r = demo("--scenario", "sunny", "--speed", "max", "--plot", str(picture))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    if find_mosquitto():
        assert "(MQTT via Mosquitto on port" in r.stdout
    seen = decisions(r.stdout)
    assert ("evcc.loadpoints.1.mode", "pv") in [(d[1], d[2]) for d in seen]
    # The loads answered only what went over the wire, yet every decision is
    # the one the closed loop in `sim` makes at the same minute.  (The figures
    # in the reasons may differ a little: `sim` also decides between samples,
    # at a `for` timer's exact end, the demo at its next 10-second step.)
    assert [d[:4] for d in seen] == expected(simulated("sunny"))
    # The Envoy's dropout is told as it happens, and the rules go safe.
    assert re.search(r"^13:20  envoy +envoy GET /ivp/meters/readings: the device failed \(HTTP 503\)", r.stdout, re.M)
    assert "13:26  envoy    answers again" in r.stdout
    assert [d for d in seen if d[0].startswith("13:2") and d[4].startswith("stale: envoy.net_consumption")]
    # The summary and the picture.
    assert "the day in figures (%d decisions):" % len(seen) in r.stdout
    assert re.search(r"^  self-consumed   \d+\.\d kWh \(\d+%\) of it$", r.stdout, re.M)
    assert "picture of the day: %s" % picture in r.stdout
    root = ET.fromstring(picture.read_text())
    assert len([e for e in root.iter() if e.get("class") == "change"]) == len(seen)


def test_without_mqtt_everything_goes_over_http():
    r = demo("--scenario", "winter", "--speed", "max", "--step", "30s", "--no-mqtt", "--no-plot")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert "evcc http://127.0.0.1:" in r.stdout and "(REST)" in r.stdout
    seen = decisions(r.stdout)
    # A winter night: the car tops up from the grid (ev_night), then never sees surplus.
    assert ("00:00", "evcc.loadpoints.1.mode", "now", "ev_night") == seen[1][:4]
    assert [d[:4] for d in seen] == expected(simulated("winter", "30s"))
    assert "picture of the day" not in r.stdout


def test_a_day_with_prices_over_the_simulators_costs_what_sim_says(tmp_path):
    """evcc's simulator serves the scenario's tariffs (GET /api/tariff/grid) on the
    demo's clock; the Runner reads them and charges the car in the cheapest hours."""
    r = demo("--scenario", "winter_prices", "--rules", "rules/prices/", "--speed", "max", "--step", "30s", "--no-mqtt", "--no-plot")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    seen = decisions(r.stdout)
    assert ("02:00", "evcc.loadpoints.1.mode", "now", "car_cheap") in [d[:4] for d in seen]
    assert "is among the cheapest 3h 18:00-07:00 (cut-off" in r.stdout and "€/kWh" in r.stdout
    assert [d[:4] for d in seen] == expected(simulated("winter_prices", "30s", "rules/prices/"))
    sunshift("sim", "--rules", "rules/prices/", "--scenario", "winter_prices", "--step", "30s", "-q", "--summary", str(tmp_path / "day.json"))
    cost = json.loads((tmp_path / "day.json").read_text())["net_cost"]
    assert "  net cost        €%.2f" % cost in r.stdout


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_a_busy_port_is_named():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        r = demo("--port", str(port), "--speed", "max", "--no-plot", timeout=60)
    finally:
        s.close()
    assert r.returncode == 1
    assert "sunshift demo: port %d is busy (the Envoy simulator wanted it" % port in r.stderr
    assert "Traceback" not in r.stderr


def test_ctrl_c_stops_the_simulators_and_the_broker():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.Popen([sys.executable, MAIN, "demo", "--no-plot"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        header = p.stdout.readline() + p.stdout.readline()
        ports = [int(n) for n in re.findall(r"127\.0\.0\.1:(\d+)|port (\d+)", header) for n in n if n]
        assert len(ports) >= 3, header
        assert all(listening(port) for port in ports)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not DECISION.match(p.stdout.readline()):
            pass
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "sunshift demo: stopped; simulators and broker shut down" in err
    assert "Traceback" not in err
    assert not [port for port in ports if listening(port)]
