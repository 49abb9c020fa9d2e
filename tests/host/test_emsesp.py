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


def post(sim, path, body, token=TOKEN):
    """A POST straight to the simulator: what EMS-ESP itself answers."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(sim.url + path, json.dumps(body).encode(), {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_sensors_and_custom_entities_are_read():
    with EmsEspSimulator() as sim:
        signals = EmsEsp("emsesp", sim.url, TOKEN, devices=("analogsensor", "temperaturesensor", "custom")).poll()
    assert signals == {
        "emsesp.analogsensor.relay1": 0,
        "emsesp.analogsensor.heater": 0,
        "emsesp.analogsensor.power_in": 1250,
        "emsesp.temperaturesensor.outdoor": 7.5,
        "emsesp.temperaturesensor.buffer_top": 45.2,
        "emsesp.custom.sgready": False,
        "emsesp.custom.hplimit": 100,
        "emsesp.custom.flowmeter": 12.5,
    }


@pytest.mark.parametrize("form", ["on/off", "ON/OFF", "true/false text", "true/false", "1/0 text", "1/0"])
def test_every_boolean_format_reads_as_booleans_where_the_entity_is_boolean(form):
    with EmsEspSimulator(bool_format=form) as sim:
        signals = EmsEsp("emsesp", sim.url, TOKEN).poll()
        one = EmsEsp("emsesp", sim.url, TOKEN, devices=(), entities=("boiler/burngas",)).poll()
    assert signals["emsesp.boiler.heatingactivated"] is True and signals["emsesp.boiler.dhw.charging"] is False
    assert signals["emsesp.thermostat.hc1.mode"] == "auto" and signals["emsesp.boiler.dhw.seltemp"] == 50
    # An entity the table does not declare: its type comes with a single entity's answer.
    assert one == {"emsesp.boiler.burngas": False}
    if form == "1/0":
        assert signals["emsesp.boiler.burngas"] == 0 and type(signals["emsesp.boiler.burngas"]) is int  # undeclared: a number stays one


def test_a_thermostat_mode_off_stays_text():
    with EmsEspSimulator() as sim:
        sim.set_value("thermostat", "hc1", "mode", "off")
        assert EmsEsp("emsesp", sim.url, TOKEN).poll()["emsesp.thermostat.hc1.mode"] == "off"


@pytest.mark.parametrize(
    "target, value, stored",
    [("emsesp.analogsensor.relay1", 1, 1), ("emsesp.analogsensor.relay1", True, 1), ("emsesp.analogsensor.heater", 140, 100)],
)
def test_analog_outputs_are_written_by_name(target, value, stored):
    with EmsEspSimulator() as sim:
        EmsEsp("emsesp", sim.url, TOKEN).write(target, value)
        assert sim.requests[-1].path == "/api/analogsensor/" + target.split(".")[-1]
        assert sim.writes == [("rest", target, stored)]  # PWM: EMS-ESP clamps to 0-100


def test_analog_custom_and_sensor_writes_are_checked_and_refused_as_emsesp_does():
    with EmsEspSimulator() as sim:
        ems = EmsEsp("emsesp", sim.url, TOKEN)
        with pytest.raises(ValueRefused) as raised:
            ems.write("emsesp.analogsensor.relay1", "on please")
        assert "is an analog output: it takes a number or true/false" in str(raised.value)
        with pytest.raises(DeviceError) as raised:
            ems.write("emsesp.temperaturesensor.outdoor", 20)
        assert "temperature sensors are read-only" in str(raised.value)
        with pytest.raises(DeviceError) as raised:
            ems.write("emsesp.analogsensor.power_in", 1)  # an ADC input: no command of its name
        assert str(raised.value).endswith("no entity 'power_in' in analogsensor")
        ems.write("emsesp.custom.sgready", True)
        ems.write("emsesp.custom.hplimit", 80)
        assert sim.writes == [("rest", "emsesp.custom.sgready", "on"), ("rest", "emsesp.custom.hplimit", 80)]
        # The document's form: setvalue with the GPIO as id.
        assert post(sim, "/api/analogsensor/setvalue", {"value": 1, "id": 23}) == (200, {})
        assert sim.analog["relay1"][2] == 1
        assert post(sim, "/api/analogsensor/setvalue", {"value": 1}, token="wrong") == (401, {"message": "authentication failed"})


def test_the_circuit_after_the_entity_is_sent_circuit_first():
    with EmsEspSimulator() as sim:
        # EMS-ESP 3.7 itself refuses the document's {entity}/{hc} order:
        assert post(sim, "/api/thermostat/seltemp/hc1", {"value": 22}) == (404, {"message": "no entity 'seltemp/hc1' in thermostat"})
        assert post(sim, "/api/thermostat", {"cmd": "seltemp", "data": 23, "hc": 1}) == (200, {})
        ems = EmsEsp("emsesp", sim.url, TOKEN, devices=(), entities=("thermostat/seltemp/hc1",))
        ems.write("emsesp.thermostat.seltemp.hc1", 22)
        assert sim.requests[-1].path == "/api/thermostat/hc1/seltemp"
        assert ems.poll() == {"emsesp.thermostat.hc1.seltemp": 22}
    problem = EmsEsp.instance_problem(["thermostat", "seltemp", "hc1"], {}, True)
    assert problem == "EMS-ESP names the circuit before the entity: write emsesp.thermostat.hc1.seltemp"


@pytest.mark.parametrize("nested", [True, False], ids=["nested", "flat"])
def test_sensors_over_mqtt_and_an_analog_output_written(broker, nested):
    sim, client, ems = mqtt_pair(broker, nested)
    try:
        seen = {}
        assert pump(client, [ems], lambda: seen.update(ems.poll()) or ("emsesp.custom.hplimit" in seen and "emsesp.temperaturesensor.outdoor" in seen))
        assert seen["emsesp.temperaturesensor.outdoor"] == 7.5 and seen["emsesp.analogsensor.relay1"] == 0
        assert seen["emsesp.custom.sgready"] is False
        ems.write("emsesp.analogsensor.relay1", True)
        assert pump(client, [ems], lambda: sim.writes == [("mqtt", "emsesp.analogsensor.relay1", 1)])
        assert pump(client, [ems], lambda: ems.poll().get("emsesp.analogsensor.relay1") == 1)
    finally:
        client.close()
        sim.stop()
