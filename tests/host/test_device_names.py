"""Names come from the config: every kind of device, named otherwise (the Envoy
`roof`, evcc `car`, EMS-ESP `heating`, Enode `cloud`), gives its signals and
takes its targets under that name, over REST and over MQTT, in the real Runner
against the simulators on loopback."""

import io
import json
import time

from simulators.emsesp import EmsEspSimulator
from simulators.enode import BATTERY_ID, CLIENT_ID, CLIENT_SECRET, USER_ID, EnodeSim
from simulators.envoy import EnvoySimulator
from simulators.evcc import EvccSimulator

from sunshift import port
from sunshift.host import cli
from sunshift.site import config
from sunshift.site.runner import Runner

RULES = """
rule sun
  when roof.production > 3kW and car.loadpoints.1.connected == true
       and heating.boiler.dhw.curtemp < 70 and cloud.batteries.home.chargeState.batteryLevel >= 0
  then car.loadpoints.1.mode = pv
       heating.boiler.dhw.seltemp = 60
       cloud.batteries.home.operationMode = IMPORT_FOCUS
  else car.loadpoints.1.mode = off
       heating.boiler.dhw.seltemp = 50
       cloud.batteries.home.operationMode = SELF_RELIANCE
"""
OLD_NAMES = ("envoy.", "evcc.", "emsesp.", "enode.")


def write_site(tmp_path, envoy, evcc, ems, cloud, broker=None, transport="rest"):
    (tmp_path / "site.rules").write_text(RULES)
    car = {"type": "evcc", "transport": transport, "poll": 0.1, "stale_after": 30}
    heating = {"type": "emsesp", "transport": transport, "poll": 0.1, "stale_after": 30}
    if transport == "rest":
        car["url"] = evcc.url
        heating["url"] = ems.url
    else:
        car["topic"] = evcc.topic
        heating["base"] = ems.base
    devices = {
        "roof": {"type": "envoy", "url": envoy.url, "insecure_tls": True, "poll": 0.1, "stale_after": 30},
        "car": car,
        "heating": heating,
        "cloud": {
            "type": "enode",
            "api_url": cloud.url,
            "token_url": cloud.url + "/oauth2/token",
            "user": USER_ID,
            "batteries": {"home": BATTERY_ID},
            "poll": 0.1,
        },
    }
    devices["cloud"]["batteries"] = {"home": BATTERY_ID}
    site = {"rules": str(tmp_path / "site.rules"), "devices": devices}
    if broker is not None:
        site["mqtt"] = {"host": "127.0.0.1", "port": broker.port, "client_id": "names-%s" % transport}
    (tmp_path / "site.json").write_text(json.dumps(site))
    secrets = {"roof": {"token": envoy.token}, "heating": {"token": ems.token}, "cloud": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}
    (tmp_path / "secrets.json").write_text(json.dumps(secrets))
    return str(tmp_path / "site.json")


def run_until(runner, condition, timeout=15):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "not within %d s" % timeout
        runner.step(time.monotonic(), None)
        time.sleep(0.02)


def renamed_site(tmp_path, broker=None, transport="rest"):
    """Simulators and a Runner for the renamed site; checks it end to end."""
    topic = "names-evcc-%s" % transport
    with (
        EnvoySimulator("7.6.175_with_cts") as envoy,
        EvccSimulator(broker=("127.0.0.1", broker.port) if broker else None, topic=topic, interval=0.2) as evcc,
        EmsEspSimulator(broker=("127.0.0.1", broker.port) if broker else None, base="names-ems-%s" % transport, interval=0.2) as ems,
        EnodeSim(action_delay=0.1) as cloud,
    ):
        envoy.set_power(production=500, consumption=800)
        # Settings none of the rules' values: the start writes each target once (it
        # reads back what a device holds and writes only a difference).
        evcc.loadpoint(1)["mode"] = "minpv"
        ems.set_value("boiler", "dhw", "seltemp", 55)
        cloud.set_value("batteries", BATTERY_ID, "config.operationMode", "TIME_OF_USE")
        path = write_site(tmp_path, envoy, evcc, ems, cloud, broker, transport)
        lines = []
        runner = Runner(config.load(path), port.Log(sink=lines.append))
        try:
            values = runner.engine.signals.values
            # Every signal the rules read arrives under the device's own name, and no other name.
            read = ("roof.production", "car.loadpoints.1.connected", "heating.boiler.dhw.curtemp", "cloud.batteries.home.chargeState.batteryLevel")
            run_until(runner, lambda: all(values.get(name) is not None for name in read) and evcc.writes and ems.writes and cloud.actions)
            assert not [name for name in values if name.startswith(OLD_NAMES)]
            assert evcc.writes[-1][1:] == ("evcc.loadpoints.1.mode", "off") and ems.writes[-1][1:] == ("emsesp.boiler.dhw.seltemp", 50)
            envoy.set_power(production=6000, consumption=800)
            run_until(runner, lambda: cloud.device("batteries", BATTERY_ID)["config"]["operationMode"] == "IMPORT_FOCUS")
            run_until(runner, lambda: evcc.writes[-1][2] == "pv" and ems.writes[-1][2] == 60)
            assert evcc.writes[-1][0] == ems.writes[-1][0] == transport
            assert 'car.loadpoints.1.mode: set "pv" (sun: roof.production 6 kW > 3 kW and ' in "\n".join(lines)
            assert "cloud.batteries.home.operationMode: set" in "\n".join(lines)
        finally:
            runner.close()
        if transport == "rest":
            out, err = io.StringIO(), io.StringIO()
            assert cli.main(["read", "roof", "--config", path], out, err) == 0, err.getvalue()
            names = json.loads(out.getvalue())
            assert {"roof.net_consumption", "roof.production", "roof.total_consumption", "roof.import.lifetime"} <= set(names)
            assert all(name.startswith("roof.") for name in names)


def test_every_kind_renamed_over_rest(tmp_path):
    renamed_site(tmp_path)


def test_every_kind_renamed_over_mqtt(tmp_path, broker):
    renamed_site(tmp_path, broker, "mqtt")
