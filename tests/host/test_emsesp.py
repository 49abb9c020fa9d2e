"""The EMS-ESP adapter against the EMS-ESP simulator, over REST and MQTT (real Mosquitto)."""

import itertools

import pytest
from conftest import pump
from simulators.emsesp import EmsEspSimulator

from sunshift.cpython.mqtt import Client
from sunshift.devices.emsesp import EmsEsp
from sunshift.devices.emsesp_mqtt import EmsEspMqtt
from sunshift.errors import DeviceError, ValueRefused

_ids = itertools.count()
TOKEN = "test-emsesp-token"


def test_values_become_signals_with_circuits_and_booleans():
    with EmsEspSimulator() as sim:
        signals = EmsEsp("emsesp", sim.url, TOKEN).poll()
        assert [r.path for r in sim.requests] == ["/api/boiler", "/api/thermostat"]
        assert sim.requests[0].bearer() == TOKEN
    assert signals["emsesp.boiler.dhw.seltemp"] == 50
    assert signals["emsesp.boiler.dhw.curtemp"] == 48.5
    assert signals["emsesp.boiler.dhw.charging"] is False  # "off"
    assert signals["emsesp.boiler.heatingactivated"] is True  # "on"
    assert signals["emsesp.thermostat.hc1.seltemp"] == 21.0
    assert signals["emsesp.thermostat.hc1.mode"] == "auto"


@pytest.mark.parametrize(
    "target, value, stored",
    [
        ("emsesp.boiler.dhw.seltemp", 60, ("boiler", "dhw", "seltemp", 60)),
        ("emsesp.boiler.dhw.onetime", True, ("boiler", "dhw", "onetime", "on")),
        ("emsesp.boiler.heatingactivated", False, ("boiler", "", "heatingactivated", "off")),
        ("emsesp.thermostat.hc1.seltemp", 20.5, ("thermostat", "hc1", "seltemp", 20.5)),
        ("emsesp.thermostat.hc1.mode", "eco", ("thermostat", "hc1", "mode", "eco")),
    ],
)
def test_entities_are_written_over_rest_with_the_token(target, value, stored):
    with EmsEspSimulator() as sim:
        EmsEsp("emsesp", sim.url, TOKEN).write(target, value)
        request = sim.requests[-1]
        assert request.method == "POST" and request.path == "/api/" + "/".join(target.split(".")[1:])
        assert request.bearer() == TOKEN and request.json()["value"] == value
        assert sim.value(*stored[:3]) == stored[3]


def test_a_rejected_command_is_reported_with_command_and_value():
    with EmsEspSimulator() as sim:
        ems = EmsEsp("emsesp", sim.url, TOKEN)
        with pytest.raises(DeviceError) as raised:
            ems.write("emsesp.boiler.dhw.curtemp", 60)  # read-only
        assert str(raised.value) == "emsesp POST /api/boiler/dhw/curtemp: EMS-ESP refused boiler/dhw/curtemp = 60: no entity 'curtemp' in boiler"
        with pytest.raises(DeviceError) as raised:
            ems.write("emsesp.thermostat.hc1.mode", "party")
        assert 'EMS-ESP refused thermostat/hc1/mode = "party": Command mode: party failed (Error)' in str(raised.value)
        assert raised.value.kind == "refused"
        with pytest.raises(ValueRefused):
            ems.write("emsesp.boiler.dhw.seltemp", None)
        with pytest.raises(DeviceError) as raised:
            ems.write("emsesp.kettle.power", 1)
        assert "not a writable EMS-ESP entity" in str(raised.value)


def test_a_wrong_token_is_named_as_such():
    with EmsEspSimulator() as sim:
        with pytest.raises(DeviceError) as raised:
            EmsEsp("emsesp", sim.url, "stale-token").write("emsesp.boiler.dhw.seltemp", 60)
        assert raised.value.kind == "auth"
        assert "token rejected or expired (HTTP 401)" in str(raised.value)
        assert "stale-token" not in str(raised.value)
        assert sim.value("boiler", "dhw", "seltemp") == 50


def mqtt_pair(broker, nested=True):
    base = "ems%d" % next(_ids)
    sim = EmsEspSimulator(broker=("127.0.0.1", broker.port), base=base, nested=nested, interval=0.2).start()
    client = Client("127.0.0.1", broker.port, "test-%s" % base)
    ems = EmsEspMqtt("emsesp", mqtt=client, base=base)
    return sim, client, ems


@pytest.mark.parametrize("nested", [True, False], ids=["nested", "topic-per-circuit"])
def test_values_over_mqtt_in_both_formats(broker, nested):
    sim, client, ems = mqtt_pair(broker, nested)
    try:
        seen = {}
        assert pump(client, [ems], lambda: seen.update(ems.poll()) or ("emsesp.thermostat.hc1.seltemp" in seen and "emsesp.boiler.dhw.seltemp" in seen))
        assert seen["emsesp.boiler.dhw.seltemp"] == 50 and seen["emsesp.boiler.dhw.charging"] is False
        assert seen["emsesp.boiler.curflowtemp"] == 45.2
    finally:
        client.close()
        sim.stop()


def test_writes_over_mqtt(broker):
    sim, client, ems = mqtt_pair(broker)
    try:
        assert pump(client, [ems], lambda: client.connected and sim.mqtt.connected.is_set())
        ems.write("emsesp.boiler.dhw.seltemp", 60)
        ems.write("emsesp.boiler.dhw.onetime", True)
        assert pump(client, [ems], lambda: len(sim.writes) == 2)
        assert sim.writes == [("mqtt", "emsesp.boiler.dhw.seltemp", 60), ("mqtt", "emsesp.boiler.dhw.onetime", "on")]
        # The new value comes back in the next publication.
        assert pump(client, [ems], lambda: ems.poll().get("emsesp.boiler.dhw.seltemp") == 60)
    finally:
        client.close()
        sim.stop()


def test_single_entities_can_be_read_one_by_one():
    with EmsEspSimulator() as sim:
        ems = EmsEsp("emsesp", sim.url, TOKEN, devices=(), entities=("boiler/dhw/curtemp", "boiler/dhw/charging"))
        assert ems.poll() == {"emsesp.boiler.dhw.curtemp": 48.5, "emsesp.boiler.dhw.charging": False}
        assert [r.path for r in sim.requests] == ["/api/boiler/dhw/curtemp", "/api/boiler/dhw/charging"]
        with pytest.raises(DeviceError) as raised:
            EmsEsp("emsesp", sim.url, TOKEN, devices=(), entities=("boiler/dhw/nosuch",)).poll()
        assert raised.value.kind == "missing"
