"""What the evcc and EMS-ESP adapters do without a network: values, names, checks;
and every adapter's messages with a device's text in them."""

from replay import ScriptedSession

from sunshift.devices import adapter, emsesp, emsesp_mqtt, enode_api, envoy, evcc, evcc_mqtt, mqtt_feed
from sunshift.errors import DeviceError, ValueRefused
from sunshift.text import text_value
from support import raises


class Broker:
    """Collects what an adapter publishes (the MQTT backends are tested over a real broker)."""

    def __init__(self):
        self.published = []
        self.topics = []

    def subscribe(self, topic):
        self.topics.append(topic)

    def publish(self, topic, payload, retain=False):
        self.published.append((topic, payload))


def test_mqtt_text_values():
    assert text_value(b"1500") == 1500 and text_value(b"0.25") == 0.25
    assert text_value(b"true") is True and text_value(b"false") is False
    assert text_value(b"pv") == "pv" and text_value(b"") is None
    assert text_value(b"nan") == "nan" and text_value(b"\xff") is None


def test_flatten_counts_lists_from_one_and_drops_nulls_and_long_lists():
    out = adapter.flatten({"a": {"b": [10, 20]}, "n": None, "slots": list(range(40))}, "x", {})
    assert out == {"x.a.b.1": 10, "x.a.b.2": 20}


class Listener:
    wanted = ()


def test_an_mqtt_feed_offers_values_only_while_its_device_talks():
    f = mqtt_feed.MqttFeed(Listener())
    f.set("a.x", 1)
    assert f.take() == {"a.x": 1}
    assert f.take() == {}  # nothing new arrived
    f.set("a.y", 2)
    f.status("offline")
    assert f.take() == {}
    f.status("online")
    assert f.take() == {"a.x": 1, "a.y": 2}
    f.set("a.x", None)  # an empty (cleared) topic
    assert f.take() == {"a.y": 2}
    f.status(b"offline")  # a payload as bytes: the same
    assert f.take() == {}


def test_an_mqtt_feed_keeps_only_what_the_rules_read():
    device = Listener()
    device.wanted = ["a.x"]
    f = mqtt_feed.MqttFeed(device)
    f.set("a.x", 1)
    f.set("a.y", 2)  # heard, not kept: a board has no room for all evcc publishes
    assert f.take() == {"a.x": 1}
    f.set("a.y", 3)
    assert f.take() == {"a.x": 1} and f.values == {"a.x": 1}


def test_evcc_state_names_match_its_topics():
    state = {"grid": {"power": 5.5}, "pvPower": 100, "loadpoints": [{"mode": "pv", "chargePower": 0}], "vehicles": {"car": {"minSoc": 20}}}
    assert evcc.state_signals("evcc", state) == {
        "evcc.site.grid.power": 5.5,
        "evcc.site.pvPower": 100,
        "evcc.loadpoints.1.mode": "pv",
        "evcc.loadpoints.1.chargePower": 0,
        "evcc.vehicles.car.minSoc": 20,
    }
    assert evcc.state_signals("evcc", {"result": {"pvPower": 1}}) == {"evcc.site.pvPower": 1}


def test_evcc_mqtt_messages_become_signals():
    e = evcc_mqtt.EvccMqtt("evcc", mqtt=Broker())
    assert e.handle("evcc/loadpoints/1/mode", b"smart")
    assert e.handle("evcc/site/grid/power", b"-1200.5")
    assert e.handle("evcc/loadpoints/1/mode/set", b"")  # a cleared setter: not state
    assert not e.handle("other/topic", b"1")
    assert e.poll() == {"evcc.loadpoints.1.mode": "smart", "evcc.site.grid.power": -1200.5}
    assert e.smart_modes


def test_evcc_checks_values_before_sending():
    for target, kind, value, message in (
        ("t", "mode", "turbo", "needs one of off pv minpv now smart"),
        ("t", "soc", 101, "from 0 to 100"),
        ("t", "soc", True, "needs a state of charge"),
        ("t", "phases", 2, "needs 0 (automatic), 1 or 3"),
        ("t", "plan", "5@2026-13-01T00:00:00Z", "needs a time in UTC"),
        ("t", "amps", 0, "from 1 to 125"),
    ):
        assert message in str(raises(ValueRefused, evcc.check, target, kind, value))
    assert evcc.number_text(0.00001) == "0.00001" and evcc.number_text(80) == "80" and evcc.number_text(1.5) == "1.5"


def test_evcc_writes_over_mqtt_never_send_an_empty_payload():
    broker = Broker()
    e = evcc_mqtt.EvccMqtt("evcc", mqtt=broker)
    e.write("evcc.loadpoints.1.mode", "pv")
    e.write("evcc.site.smartCostLimit", "none")
    e.write("evcc.loadpoints.1.planEnergy", "20@2026-06-21T05:00:00Z")
    e.write("evcc.loadpoints.2.phases", 3)
    e.write("evcc.site.batteryDischargeControl", False)
    assert broker.published == [
        ("evcc/loadpoints/1/mode/set", "pv"),
        ("evcc/site/smartCostLimit/set", "none"),
        ("evcc/loadpoints/1/planEnergy/set", '{"value": 20, "time": "2026-06-21T05:00:00Z"}'),
        ("evcc/loadpoints/2/phasesConfigured/set", "3"),
        ("evcc/site/batteryDischargeControl/set", "false"),
    ]
    assert all(payload for _, payload in broker.published)


def test_evcc_rest_writes_and_refusals():
    def handler(method, path, body):
        if path == "/api/loadpoints/1/mode/pv":
            return 200, b'"pv"'
        return 400, b'{"error": "invalid value"}'

    session = ScriptedSession(handler)
    e = evcc.Evcc("evcc", "http://evcc.local:7070", session=session)
    e.write("evcc.loadpoints.1.mode", "pv")
    assert session.requests[-1][:2] == ("POST", "/api/loadpoints/1/mode/pv")
    err = raises(DeviceError, e.write, "evcc.site.prioritySoc", 50)
    assert str(err) == "evcc POST /api/prioritysoc/50: evcc refused evcc.site.prioritySoc = 50: invalid value"


def test_emsesp_mqtt_formats():
    e = emsesp_mqtt.EmsEspMqtt("emsesp", mqtt=Broker())
    e.handle("ems-esp/boiler_data", b'{"curflowtemp": 60.2, "dhw": {"seltemp": 52, "charging": "on"}}')
    e.handle("ems-esp/thermostat_data_hc1", b'{"seltemp": 21, "mode": "auto"}')
    e.handle("ems-esp/boiler_data_dhw/curtemp", b"48.5")
    e.handle("ems-esp/boiler/dhw/seltemp", b"60")  # our own command, echoed: not state
    e.handle("ems-esp/status", b"online")
    assert e.poll() == {
        "emsesp.boiler.curflowtemp": 60.2,
        "emsesp.boiler.dhw.seltemp": 52,
        "emsesp.boiler.dhw.charging": True,
        "emsesp.thermostat.hc1.seltemp": 21,
        "emsesp.thermostat.hc1.mode": "auto",
        "emsesp.boiler.dhw.curtemp": 48.5,
    }


def test_emsesp_writes():
    broker = Broker()
    e = emsesp_mqtt.EmsEspMqtt("emsesp", mqtt=broker)
    e.write("emsesp.boiler.dhw.seltemp", 60)
    e.write("emsesp.boiler.dhw.onetime", True)
    assert broker.published == [("ems-esp/boiler/dhw/seltemp", "60"), ("ems-esp/boiler/dhw/onetime", "on")]
    sent = []

    def handler(method, path, body):
        sent.append((method, path, body))
        return 400, b'{"message":"Command seltemp: 99 failed (Error)"}'

    rest = emsesp.EmsEsp("emsesp", "http://ems-esp.local", "tok", session=ScriptedSession(handler))
    err = raises(DeviceError, rest.write, "emsesp.boiler.dhw.seltemp", 99)
    assert sent == [("POST", "/api/boiler/dhw/seltemp", '{"value": 99}')]
    assert "EMS-ESP refused boiler/dhw/seltemp = 99: Command seltemp: 99 failed (Error)" in str(err)


# A device's text that would forge a log line of its own and colour the terminal.
FORGED = "no\n2026-01-01 fake log line\x1b[31m"
LONG = FORGED + "x" * 3000


def _bounded(text, limit=400):
    """True if ``text`` is at most ``limit`` characters with no control character."""
    return len(text) <= limit and "\n" not in text and "\x1b" not in text and "\x00" not in text


def test_a_refusal_in_the_devices_own_words_is_clipped_and_escaped():
    def handler(method, path, body):
        if path.startswith("/api/loadpoints"):
            return 400, ('{"error": "%s"}' % LONG.replace("\n", "\\n").replace("\x1b", "\\u001b")).encode()
        if path.startswith("/api/boiler"):
            return 400, ('{"message": "%s"}' % LONG.replace("\n", "\\n").replace("\x1b", "\\u001b")).encode()
        return 418, LONG.encode()

    session = ScriptedSession(handler)
    err = raises(DeviceError, evcc.Evcc("evcc", "http://evcc.local", session=session).write, "evcc.loadpoints.1.mode", "pv")
    text = str(err)
    assert _bounded(text) and "evcc refused evcc.loadpoints.1.mode = pv: no\\n2026-01-01 fake log line\\x1b[31mxx" in text, text
    assert text.endswith("… (%d characters)" % len(LONG))
    err = raises(DeviceError, emsesp.EmsEsp("emsesp", "http://ems", "tok", session=session).write, "emsesp.boiler.dhw.seltemp", 50)
    assert _bounded(str(err)) and "EMS-ESP refused boiler/dhw/seltemp = 50: no\\n2026" in str(err), str(err)
    err = raises(DeviceError, evcc.Evcc("evcc", "http://evcc.local", session=session).write, "evcc.site.prioritySoc", 50)
    assert _bounded(str(err)) and "unexpected HTTP 418: the text 'no\\n2026-01-01 fake log line\\x1b[31m" in str(err), str(err)


def test_a_value_where_a_number_belongs_is_shown_clipped():
    report = {"consumption": [{"type": "eim", "activeCount": 1, "measurementType": "net-consumption", "wNow": LONG}]}
    e = raises(ValueError, envoy.read_report, report, {}, {}, {})
    assert _bounded(str(e)) and str(e).startswith("net-consumption wNow is 'no\\n2026"), str(e)
    for target, kind in (("evcc.loadpoints.1.mode", "mode"), ("evcc.site.prioritySoc", "soc"), ("evcc.loadpoints.1.planEnergy", "plan")):
        e = raises(ValueRefused, evcc.check, target, kind, LONG)
        assert _bounded(str(e)) and "(%d characters)" % len(LONG) in str(e), str(e)
    e = raises(ValueRefused, enode_api.command, "batteries", "operationMode", "id", LONG, "enode.batteries.home.operationMode")
    assert _bounded(str(e)), str(e)


def test_enodes_problem_title_and_detail_are_clipped_and_escaped():
    body = ('{"type": "x", "title": "%s", "detail": "%s"}' % (LONG, "d" * 100000)).replace("\n", "\\n").replace("\x1b", "\\u001b")
    e = enode_api.problem_error("enode", "POST /vehicles/v1/charging", 400, body.encode())
    text = str(e)
    assert _bounded(text, 600) and "Enode said no\\n2026-01-01 fake log line\\x1b[31m" in text, text
    assert "… (%d characters): ddd" % len(LONG) in text and "… (100000 characters))" in text
    e = enode_api.problem_error("enode", "POST /vehicles/v1/charging", 502, ("<html>" + "x" * 100000).encode())
    assert str(e).endswith("(HTTP 502, Enode said an HTML page)")


def test_evccs_rest_values_are_named_and_given_as_its_mqtt_topics_give_them():
    from sunshift.devices.evcc import state_signals

    state = {"loadpoints": [{"chargeCurrents": [6.1, 6.2, 5.9], "planTime": "2026-06-21T07:00:00+02:00", "effectivePlanTime": "0001-01-01T00:00:00Z"}]}
    signals = state_signals("evcc", state)
    assert signals["evcc.loadpoints.1.chargeCurrents.l1"] == 6.1 and signals["evcc.loadpoints.1.chargeCurrents"] == 18.2
    assert signals["evcc.loadpoints.1.planTime"] == 1782018000  # Unix seconds, as over MQTT
    assert "evcc.loadpoints.1.effectivePlanTime" not in signals  # a zero time is no value
    assert "evcc.loadpoints.1.chargeCurrents.1" not in signals


# What evcc's planHandler answers (server/http_loadpoint_handler.go), a plan of two slots.
EVCC_PLAN = (
    b'{"planId": 1, "planTime": "2026-01-15T06:00:00+01:00", "duration": 7336, "plan": [{"start": "2026-01-15T02:00:00+01:00",'
    b' "end": "2026-01-15T03:00:00+01:00", "value": 0.19}, {"start": "2026-01-15T03:00:00+01:00", "end": "2026-01-15T04:00:00+01:00",'
    b' "value": 0.17}], "power": 11040.0}'
)


def test_evcc_plan_only_for_the_loadpoints_whose_plan_the_rules_read():
    def handler(method, path, body):
        if path == "/api/state":
            return 200, b'{"loadpoints": [{"mode": "pv", "planActive": true, "plan": [{"start": "2026-01-15T02:00:00+01:00"}]}, {"mode": "off"}]}'
        if path == "/api/loadpoints/2/plan":
            return 200, EVCC_PLAN
        return 404, b"404 page not found\n"

    session = ScriptedSession(handler)
    e = evcc.Evcc("evcc", "http://evcc.local:7070", session=session)
    e.wanted = ("evcc.loadpoints.1.mode", "evcc.loadpoints.1.planActive")
    assert e.poll() == {"evcc.loadpoints.1.mode": "pv", "evcc.loadpoints.1.planActive": True}
    assert [r[1] for r in session.requests] == ["/api/state"]  # no rule reads a plan: no request
    e.wanted = ("evcc.loadpoints.2.plan.duration", "evcc.loadpoints.2.plan.planTime", "evcc.loadpoints.2.plan.power")
    assert e.poll() == {"evcc.loadpoints.2.plan.duration": 7336, "evcc.loadpoints.2.plan.planTime": 1768453200, "evcc.loadpoints.2.plan.power": 11040.0}
    assert [r[1] for r in session.requests[1:]] == ["/api/state", "/api/loadpoints/2/plan"]
    e.wanted = ()  # `read`: every loadpoint's plan, and the state's slot list left out (no plan.1.start)
    got = e.poll()
    assert got["evcc.loadpoints.2.plan.planId"] == 1 and "evcc.loadpoints.1.plan" not in got and "evcc.loadpoints.1.plan.1.start" not in got
    assert [r[1] for r in session.requests[3:] if r[1].endswith("/plan") and "loadpoints" in r[1]] == ["/api/loadpoints/1/plan", "/api/loadpoints/2/plan"]


def test_evcc_plan_topic_is_left_out_over_mqtt_as_over_rest():
    e = evcc_mqtt.EvccMqtt("evcc", mqtt=Broker())
    assert e.handle("evcc/loadpoints/1/plan", b'[{"start":"2026-01-15T02:00:00+01:00","end":"2026-01-15T03:00:00+01:00","value":0.19}]')
    assert e.handle("evcc/loadpoints/1/planActive", b"true")
    assert e.handle("evcc/loadpoints/1/planProjectedStart", b"1768438800")
    assert e.handle("evcc/loadpoints/1/planStrategy/continuous", b"false")
    assert e.poll() == {
        "evcc.loadpoints.1.planActive": True,
        "evcc.loadpoints.1.planProjectedStart": 1768438800,
        "evcc.loadpoints.1.planStrategy.continuous": False,
    }
    assert e.seen == (1, [])


def test_emsesp_boolean_forms_and_circuit_order():
    n = emsesp.normalise
    assert [n(v) for v in ("on", "OFF", "true", "FALSE", "yes", "no")] == [True, False, True, False, True, False]
    assert n(1) == 1 and n("1") == "1" and n(1, "bool") is True and n("0", "bool") is False and n(0.5, "bool") == 0.5
    assert n("off", "text") == "off" and n(True, "text") is True
    assert emsesp.EmsEsp.unit_of("emsesp.boiler.dhw.charging") == "bool"
    assert emsesp.EmsEsp.unit_of("emsesp.thermostat.hc2.mode") == "text"
    assert emsesp.EmsEsp.unit_of("emsesp.boiler.burngas") is None
    assert [emsesp.is_circuit(w) for w in ("hc1", "dhw", "dhw10", "ahs1", "hs16", "hstemp", "dhwx", "seltemp")] == [True] * 5 + [False] * 3
    assert emsesp.circuit_first(["thermostat", "seltemp", "hc2"]) == ["thermostat", "hc2", "seltemp"]
    kept = ["thermostat", "hc2", "seltemp"]
    assert emsesp.circuit_first(kept) is kept and emsesp.circuit_first(["boiler", "dhw", "seltemp"]) == ["boiler", "dhw", "seltemp"]


def test_emsesp_sensor_targets_and_values():
    e = emsesp.EmsEsp
    assert e.setting(["analogsensor", "relay1"]) == ("analogsensor.<name>", "output")
    assert e.setting(["custom", "sgready"]) == ("custom.<name>", "entity")
    assert e.setting(["temperaturesensor", "outdoor"]) is None
    assert e.check_value("emsesp.analogsensor.relay1", "output", True) is True
    assert e.check_value("emsesp.analogsensor.heater", "output", 42.5) == 42.5
    for bad in ("on", None, 1e9, float("nan")):
        err = raises(ValueRefused, e.check_value, "emsesp.analogsensor.relay1", "output", bad)
        assert "is an analog output" in str(err)


def test_emsesp_mqtt_sensor_topics():
    e = emsesp_mqtt.EmsEspMqtt("emsesp", mqtt=Broker())
    e.handle("ems-esp/analogsensor_data", b'{"23": {"name": "relay1", "value": "on"}, "33": {"name": "heater", "value": 40.5}}')
    e.handle("ems-esp/temperaturesensor_data", b'{"28_1767_7B13_2502": {"name": "outdoor", "temp": 7.5}}')
    e.handle("ems-esp/custom_data", b'{"sgready": "OFF", "hplimit": 80}')
    e.handle("ems-esp/thermostat_data_hc1", b'{"mode": "off"}')
    assert e.poll() == {
        "emsesp.analogsensor.relay1": 1,
        "emsesp.analogsensor.heater": 40.5,
        "emsesp.temperaturesensor.outdoor": 7.5,
        "emsesp.custom.sgready": False,
        "emsesp.custom.hplimit": 80,
        "emsesp.thermostat.hc1.mode": "off",
    }
