"""The evcc adapter against the evcc simulator, over REST and over MQTT (real Mosquitto)."""

import itertools
import json
import urllib.error
import urllib.request

import pytest
from conftest import pump
from simulators.evcc import EvccSimulator

from sunshift.cpython.mqtt import Client
from sunshift.devices.evcc import Evcc, check, state_signals
from sunshift.devices.evcc_mqtt import EvccMqtt
from sunshift.errors import DeviceError, RuleError, ValueRefused

_ids = itertools.count()

# (target, value written, where the simulator keeps it, value it keeps)
WRITES = [
    ("evcc.site.prioritySoc", 80, ("site", None, "prioritySoc"), 80),
    ("evcc.site.bufferSoc", 90, ("site", None, "bufferSoc"), 90),
    ("evcc.site.bufferStartSoc", 95, ("site", None, "bufferStartSoc"), 95),
    ("evcc.site.residualPower", -200, ("site", None, "residualPower"), -200),
    ("evcc.site.smartCostLimit", 0.25, ("site", None, "smartCostLimit"), 0.25),
    ("evcc.site.batteryDischargeControl", True, ("site", None, "batteryDischargeControl"), True),
    ("evcc.loadpoints.1.mode", "pv", ("loadpoints", 1, "mode"), "pv"),
    ("evcc.loadpoints.1.limitSoc", 70, ("loadpoints", 1, "limitSoc"), 70),
    ("evcc.loadpoints.1.minSoc", 20, ("loadpoints", 1, "minSoc"), 20),
    ("evcc.loadpoints.1.vehicle", "car", ("loadpoints", 1, "vehicleName"), "car"),
    ("evcc.loadpoints.1.limitEnergy", 12.5, ("loadpoints", 1, "limitEnergy"), 12.5),
    ("evcc.loadpoints.1.minCurrent", 8, ("loadpoints", 1, "minCurrent"), 8),
    ("evcc.loadpoints.1.maxCurrent", 10, ("loadpoints", 1, "maxCurrent"), 10),
    ("evcc.loadpoints.1.phases", 1, ("loadpoints", 1, "phasesConfigured"), 1),
    ("evcc.loadpoints.1.enableThreshold", -500, ("loadpoints", 1, "enableThreshold"), -500),
    ("evcc.loadpoints.1.disableThreshold", 200, ("loadpoints", 1, "disableThreshold"), 200),
    ("evcc.loadpoints.1.planEnergy", "20@2026-06-21T05:00:00Z", ("loadpoints", 1, "planEnergy"), 20),
    ("evcc.vehicles.car.minSoc", 20, ("vehicles", "car", "minSoc"), 20),
    ("evcc.vehicles.car.limitSoc", 90, ("vehicles", "car", "limitSoc"), 90),
    ("evcc.vehicles.car.planSoc", "80@2026-06-21T05:00:00Z", ("vehicles", "car", "planSoc"), 80),
]


def kept(sim, where):
    scope, key, setting = where
    if scope == "site":
        return sim.state[setting]
    if scope == "loadpoints":
        return sim.state["loadpoints"][key - 1][setting]
    return sim.state["vehicles"][key][setting]


def test_state_becomes_signals_named_like_the_mqtt_topics():
    with EvccSimulator() as sim:
        signals = Evcc("evcc", sim.url).poll()
    assert signals["evcc.site.grid.power"] == 450.0
    assert signals["evcc.site.battery.soc"] == 60.0
    assert signals["evcc.loadpoints.1.mode"] == "off"
    assert signals["evcc.loadpoints.1.connected"] is True
    assert signals["evcc.vehicles.car.limitSoc"] == 100
    assert "evcc.site.smartCostLimit" not in signals  # null: no value


def test_the_old_result_wrapper_is_unwrapped():
    with EvccSimulator(wrap_result=True) as sim:
        signals = Evcc("evcc", sim.url).poll()
    assert signals["evcc.loadpoints.1.mode"] == "off"
    assert state_signals("evcc", {"result": {"gridPower": 5}}) == {"evcc.site.gridPower": 5}


@pytest.mark.parametrize("target, value, where, stored", WRITES, ids=[w[0] for w in WRITES])
def test_every_setting_is_written_over_rest(target, value, where, stored):
    with EvccSimulator() as sim:
        Evcc("evcc", sim.url).write(target, value)
        assert kept(sim, where) == stored
        assert sim.writes[-1][0] == "rest"
        assert sim.requests[-1].method == "POST"


def test_deleting_a_plan_or_limit_uses_delete():
    with EvccSimulator() as sim:
        evcc = Evcc("evcc", sim.url)
        evcc.write("evcc.loadpoints.1.planEnergy", "20@2026-06-21T05:00:00Z")
        evcc.write("evcc.loadpoints.1.planEnergy", "none")
        assert sim.requests[-1].method == "DELETE" and sim.requests[-1].path == "/api/loadpoints/1/plan/energy"
        assert sim.loadpoint(1)["planTime"] is None
        evcc.write("evcc.site.smartCostLimit", "none")
        assert sim.requests[-1].path == "/api/smartcostlimit" and sim.state["smartCostLimit"] is None


@pytest.mark.parametrize(
    "target, value, message",
    [
        ("evcc.loadpoints.1.mode", "fast", "needs one of off pv minpv now smart"),
        ("evcc.loadpoints.1.limitSoc", 120, "needs a state of charge from 0 to 100"),
        ("evcc.site.prioritySoc", "high", "needs a state of charge"),
        ("evcc.loadpoints.1.phases", 2, "needs 0 (automatic), 1 or 3"),
        ("evcc.site.batteryDischargeControl", 1, "needs true or false"),
        ("evcc.loadpoints.1.planEnergy", "20@tomorrow", "needs a time in UTC like 2026-06-21T05:00:00Z"),
        ("evcc.loadpoints.1.planEnergy", "2026-06-21T05:00:00Z", 'needs "AMOUNT@TIME"'),
        ("evcc.vehicles.car.planSoc", "80@2026-06-21T05:00:00+02:00", "needs a time in UTC"),
        ("evcc.loadpoints.1.maxCurrent", float("nan"), "needs a current in A"),
    ],
)
def test_bad_values_are_refused_before_anything_is_sent(target, value, message):
    with EvccSimulator() as sim:
        with pytest.raises(ValueRefused) as raised:
            Evcc("evcc", sim.url).write(target, value)
        assert message in str(raised.value)
        assert sim.requests == []


def test_what_evcc_refuses_is_reported_with_its_reason():
    with EvccSimulator() as sim:
        evcc = Evcc("evcc", sim.url)
        with pytest.raises(DeviceError) as raised:
            evcc.write("evcc.loadpoints.7.mode", "pv")
        assert raised.value.kind == "refused" and "POST /api/loadpoints/7/mode/pv" in str(raised.value)
        with pytest.raises(DeviceError) as raised:
            evcc.write("evcc.vehicles.bike.minSoc", 10)
        assert "evcc refused evcc.vehicles.bike.minSoc = 10: HTTP 404" in str(raised.value)
        with pytest.raises(DeviceError) as raised:
            evcc.write("evcc.site.pvPower", 10)
        assert "not a writable evcc setting" in str(raised.value)


def test_evcc_2026_reports_smart_and_takes_pv():
    with EvccSimulator(smart_modes=True) as sim:
        evcc = Evcc("evcc", sim.url)
        evcc.write("evcc.loadpoints.1.mode", "pv")
        assert evcc.poll()["evcc.loadpoints.1.mode"] == "smart"  # read what the device reports
        evcc.write("evcc.loadpoints.1.mode", "smart")
        assert sim.requests[-1].path == "/api/loadpoints/1/mode/smart"
    with EvccSimulator() as sim:
        Evcc("evcc", sim.url).write("evcc.loadpoints.1.mode", "smart")  # an older evcc: sent as pv
        assert sim.requests[-1].path == "/api/loadpoints/1/mode/pv" and sim.loadpoint(1)["mode"] == "pv"


def mqtt_client(broker):
    return Client("127.0.0.1", broker.port, "test-%d" % next(_ids))


def test_state_over_mqtt_has_the_same_names(broker):
    with EvccSimulator(broker=("127.0.0.1", broker.port), topic="evcc-read", interval=0.2) as sim:
        client = mqtt_client(broker)
        evcc = EvccMqtt("evcc", mqtt=client, topic="evcc-read")
        names = ("evcc.site.grid.power", "evcc.site.battery.soc", "evcc.loadpoints.1.mode", "evcc.loadpoints.1.connected", "evcc.vehicles.car.minSoc")
        seen = {}
        assert pump(client, [evcc], lambda: seen.update(evcc.poll()) or all(n in seen for n in names))
        rest = Evcc("evcc", sim.url).poll()
        for name in names:
            assert seen[name] == rest[name], name
        client.close()


@pytest.mark.parametrize("target, value, where, stored", WRITES, ids=[w[0] for w in WRITES])
def test_every_setting_is_written_over_mqtt(broker, target, value, where, stored):
    topic = "evcc-w%d" % next(_ids)
    with EvccSimulator(broker=("127.0.0.1", broker.port), topic=topic, interval=5) as sim:
        client = mqtt_client(broker)
        evcc = EvccMqtt("evcc", mqtt=client, topic=topic)
        assert pump(client, [evcc], lambda: client.connected and sim.mqtt.connected.is_set())
        evcc.write(target, value)
        assert pump(client, [evcc], lambda: sim.writes), "the simulator never got %s" % target
        assert sim.writes[-1][0] == "mqtt" and kept(sim, where) == stored
        client.close()


def test_an_offline_evcc_stops_feeding_signals(broker):
    topic = "evcc-off"
    sim = EvccSimulator(broker=("127.0.0.1", broker.port), topic=topic, interval=0.1).start()
    client = mqtt_client(broker)
    evcc = EvccMqtt("evcc", mqtt=client, topic=topic)
    assert pump(client, [evcc], lambda: "evcc.loadpoints.1.mode" in evcc.feed.values)
    sim.stop(clean=False)  # the broker publishes evcc's last will: offline
    assert pump(client, [evcc], lambda: not evcc.feed.online)
    evcc.poll()
    assert evcc.poll() == {}
    client.close()


def test_check_passes_good_values_through():
    assert check("t", "mode", "PV") == "pv"
    assert check("t", "plan", "12.5@2026-06-21T05:00:00Z") == (12.5, "2026-06-21T05:00:00Z")
    assert check("t", "plan", "none") is None
    assert check("t", "price", 0.3) == 0.3


# Values the simulator (as evcc) refuses with HTTP 400, sent by hand: `check`
# refuses each before a rule runs, with the same check the adapter's write makes.
SIM_REFUSES = [
    ("loadpoints/1/mode/fast", "evcc.loadpoints.1.mode = fast"),
    ("prioritysoc/101", "evcc.site.prioritySoc = 101"),
    ("loadpoints/1/phases/2", "evcc.loadpoints.1.phases = 2"),
    ("batterydischargecontrol/maybe", "evcc.site.batteryDischargeControl = maybe"),
    ("vehicles/car/minsoc/-5", "evcc.vehicles.car.minSoc = -5"),
]


def test_the_table_of_kinds_check_and_the_simulator_agree():
    from sunshift.devices.adapter import fits
    from sunshift.lang.ruleset import compile_sources
    from sunshift.site.catalog import Catalog

    # every target the table lists is one the simulator takes (WRITES covers them all) ...
    for pattern, _ in Evcc.TARGETS:
        assert [w for w in WRITES if fits(pattern, w[0].split(".")[1:])], pattern
    # ... each written value passes `check` as a rule value ...
    for target, value, _, _ in WRITES:
        text = '"%s"' % value if isinstance(value, str) else ("true" if value is True else str(value))
        compile_sources([("t.rules", "rule r\n  when envoy.production > 1kW\n  then %s = %s\n  else %s = %s\n" % (target, text, target, text))], Catalog())
    # ... and what the simulator refuses, `check` refuses first.
    with EvccSimulator() as sim:
        for path, action in SIM_REFUSES:
            request = urllib.request.Request(sim.url + "/api/" + path, method="POST")
            try:
                urllib.request.urlopen(request, timeout=5)
                status = 200
            except urllib.error.HTTPError as e:
                status = e.code
            assert status == 400, path
            rule = "rule r\n  when envoy.production > 1kW\n  then %s\n  else %s\n" % (action, action)
            with pytest.raises(RuleError) as e:
                compile_sources([("t.rules", rule)], Catalog())
            assert "evcc would refuse this" in str(e.value), action


def test_the_vehicle_on_a_loadpoint_is_chosen_taken_off_and_detected_over_rest():
    """A two-car household: which car charges (POST /api/loadpoints/1/vehicle/van),
    none (DELETE), let evcc find it (PATCH); a car evcc lacks is evcc's 400."""
    with EvccSimulator(vehicles=("car", "van")) as sim:
        evcc = Evcc("evcc", sim.url)
        evcc.write("evcc.loadpoints.1.vehicle", "van")
        assert sim.loadpoint(1)["vehicleName"] == "van" and sim.writes[-1] == ("rest", "evcc.loadpoints.1.vehicle", "van")
        evcc.write("evcc.loadpoints.1.vehicle", "none")
        assert sim.loadpoint(1)["vehicleName"] == ""
        evcc.write("evcc.loadpoints.1.vehicle", "detect")
        assert sim.loadpoint(1)["vehicleDetectionActive"] is True
        with pytest.raises(DeviceError) as e:
            evcc.write("evcc.loadpoints.1.vehicle", "bike")
        assert str(e.value) == "evcc POST /api/loadpoints/1/vehicle/bike: evcc refused evcc.loadpoints.1.vehicle = bike: vehicle not found: bike"
        evcc.write("evcc.loadpoints.1.minSoc", 25)
        assert sim.loadpoint(1)["minSoc"] == 25 and sim.writes[-1] == ("rest", "evcc.loadpoints.1.minSoc", 25)
    with pytest.raises(ValueRefused) as e:
        check("evcc.loadpoints.1.vehicle", "vehicle", "my car")
    assert "needs a vehicle's name as evcc knows it" in str(e.value)


def test_the_vehicle_over_mqtt_and_detection_only_over_rest(broker):
    topic = "evcc-v%d" % next(_ids)
    with EvccSimulator(broker=("127.0.0.1", broker.port), topic=topic, interval=5, vehicles=("car", "van")) as sim:
        client = mqtt_client(broker)
        evcc = EvccMqtt("evcc", mqtt=client, topic=topic)
        assert pump(client, [evcc], lambda: client.connected and sim.mqtt.connected.is_set())
        evcc.write("evcc.loadpoints.1.vehicle", "van")
        assert pump(client, [evcc], lambda: sim.loadpoint(1)["vehicleName"] == "van")
        with pytest.raises(DeviceError) as e:
            evcc.write("evcc.loadpoints.1.vehicle", "detect")
        assert "evcc starts vehicle detection over REST only (PATCH /api/loadpoints/1/vehicle)" in str(e.value)
        client.close()


def test_phases_and_times_have_the_same_names_and_values_over_rest_and_mqtt(broker):
    """evcc publishes three phases as l1..l3 with their sum, and times as Unix
    seconds; its REST state has lists and RFC 3339.  A rule sees the same either way."""
    topic = "evcc-p%d" % next(_ids)
    with EvccSimulator(broker=("127.0.0.1", broker.port), topic=topic, interval=0.2) as sim:
        with sim.state_lock:
            sim.loadpoint(1)["chargeCurrents"] = [6.1, 6.2, 5.9]
        Evcc("evcc", sim.url).write("evcc.loadpoints.1.planEnergy", "20@2026-06-21T05:00:00Z")
        names = ["evcc.loadpoints.1.chargeCurrents", "evcc.loadpoints.1.chargeCurrents.l1", "evcc.loadpoints.1.chargeCurrents.l3", "evcc.loadpoints.1.planTime"]
        rest = Evcc("evcc", sim.url).poll()
        assert [rest[n] for n in names] == [18.2, 6.1, 5.9, 1782018000] and "evcc.loadpoints.1.chargeCurrents.1" not in rest
        client = mqtt_client(broker)
        evcc = EvccMqtt("evcc", mqtt=client, topic=topic)
        seen = {}
        assert pump(client, [evcc], lambda: seen.update(evcc.poll()) or all(n in seen for n in names))
        for n in names:
            assert abs(seen[n] - rest[n]) < 1e-6, (n, seen[n], rest[n])
        client.close()


def test_a_reading_keeps_only_what_the_rules_read_and_still_knows_every_loadpoint():
    with EvccSimulator(loadpoints=2, vehicles=("car", "van")) as sim:
        evcc = Evcc("evcc", sim.url)
        evcc.wanted = ("evcc.loadpoints.1.chargePower", "evcc.loadpoints.1.chargeCurrents.l2")
        assert sorted(evcc.poll()) == ["evcc.loadpoints.1.chargeCurrents.l2", "evcc.loadpoints.1.chargePower"]
        assert evcc.instances == (2, ["car", "van"])  # from the answer, not from the names kept
        evcc.wanted = ()
        assert len(evcc.poll()) > 60  # `read`: everything


# --- the loadpoint's plan ---------------------------------------------------------

EVENING = 1768413600  # 2026-01-14 18:00 UTC
PLAN = ("evcc.loadpoints.1.plan.duration", "evcc.loadpoints.1.plan.power", "evcc.loadpoints.1.plan.planTime", "evcc.loadpoints.1.plan.planId")
# The planner's keys of the state: the same names over REST and MQTT.
PLANNER = (
    "evcc.loadpoints.1.planActive",
    "evcc.loadpoints.1.planProjectedStart",
    "evcc.loadpoints.1.planProjectedEnd",
    "evcc.loadpoints.1.planOverrun",
    "evcc.loadpoints.1.effectivePlanTime",
    "evcc.loadpoints.1.effectivePlanSoc",
)


class Log:
    def __init__(self):
        self.lines = []

    def warn(self, source, text):
        self.lines.append("%s: %s" % (source, text))


def planning(sim, at=EVENING):
    """The simulator at ``at`` with hourly grid prices (the night cheapest) and the car
    asked to reach 80 % by 06:00 the next morning (local time, +01:00)."""
    sim.clock = lambda: at
    prices = (0.45, 0.39, 0.33, 0.30, 0.28, 0.27, 0.24, 0.19, 0.17, 0.18, 0.21, 0.29, 0.38)
    sim.set_tariff("grid", [(EVENING + h * 3600, EVENING + (h + 1) * 3600, p) for h, p in enumerate(prices)])
    Evcc("evcc", sim.url).write("evcc.vehicles.car.planSoc", "80@2026-01-15T05:00:00Z")


def test_the_plan_is_read_only_when_a_rule_reads_it_and_then_at_every_poll():
    with EvccSimulator() as sim:
        planning(sim)
        evcc = Evcc("evcc", sim.url)
        evcc.wanted = ("evcc.loadpoints.1.mode", "evcc.loadpoints.1.planActive")
        evcc.poll()
        assert sim.plan_gets == []
        evcc.wanted = PLAN
        signals = evcc.poll()
        evcc.poll()
        assert sim.plan_gets == [1, 1]
    # 45 % of 50 kWh at 3 × 16 A × 230 V: 7336 s; the plan's time in Unix seconds, as times are elsewhere.
    assert [signals[n] for n in PLAN] == [7336, 11040.0, 1768453200, 1]
    assert sorted(signals) == sorted(PLAN)


def test_without_a_plan_evcc_answers_zero_and_no_plan_time():
    with EvccSimulator() as sim:
        status, _, body = sim.plan_answer(1)
        assert status == 200 and json.loads(body) == {"planId": 0, "planTime": "0001-01-01T00:00:00Z", "duration": 0, "plan": None, "power": 11040.0}
        evcc = Evcc("evcc", sim.url)
        evcc.wanted = PLAN
        signals = evcc.poll()
    assert signals == {"evcc.loadpoints.1.plan.duration": 0, "evcc.loadpoints.1.plan.power": 11040.0, "evcc.loadpoints.1.plan.planId": 0}


def test_the_plan_of_an_old_evcc_is_unwrapped():
    with EvccSimulator(wrap_result=True) as sim:
        planning(sim)
        evcc = Evcc("evcc", sim.url)
        evcc.wanted = PLAN
        assert evcc.poll()["evcc.loadpoints.1.plan.duration"] == 7336


def test_a_plan_that_fails_is_logged_once_with_its_endpoint_and_the_state_stands():
    with EvccSimulator() as sim:
        log = Log()
        evcc = Evcc("evcc", sim.url, log=log)
        evcc.wanted = ("evcc.loadpoints.3.plan.duration", "evcc.loadpoints.1.mode")
        for _ in range(3):
            assert evcc.poll() == {"evcc.loadpoints.1.mode": "off"}
        assert log.lines == ["evcc: evcc GET /api/loadpoints/3/plan: not found (HTTP 404); evcc.loadpoints.3.plan.* keep the values they have"]
        evcc.wanted = ("evcc.loadpoints.1.plan.duration", "evcc.loadpoints.1.mode")
        sim.plan_fault = (500, "text/html", b"<html>Internal Server Error</html>")
        evcc.poll()
        sim.plan_fault = (200, "application/json", b"[1, 2]")
        evcc.poll()
        sim.plan_fault = None
        assert evcc.poll()["evcc.loadpoints.1.plan.duration"] == 0
        sim.plan_fault = (200, "application/json", b"[1, 2]")
        evcc.poll()
    assert log.lines[1:] == [
        "evcc: evcc GET /api/loadpoints/1/plan: the device failed (HTTP 500); evcc.loadpoints.1.plan.* keep the values they have",
        "evcc: evcc GET /api/loadpoints/1/plan: bad answer: not a plan; evcc.loadpoints.1.plan.* keep the values they have",
        "evcc: evcc GET /api/loadpoints/1/plan: bad answer: not a plan; evcc.loadpoints.1.plan.* keep the values they have",  # again after a success
    ]


def test_the_planner_state_is_active_in_a_planned_slot():
    with EvccSimulator() as sim:
        planning(sim)
        evcc = Evcc("evcc", sim.url)
        evening = evcc.poll()
        sim.clock = lambda: EVENING + 7 * 3600 + 60  # 02:01 local: the cheapest hours, planned
        night = evcc.poll()
        with sim.state_lock:
            sim.loadpoint(1)["connected"] = False
        unplugged = evcc.poll()
    assert evening["evcc.loadpoints.1.planActive"] is False and night["evcc.loadpoints.1.planActive"] is True
    # The cheapest hours before 06:00 local: 02:00 to 05:00 (+01:00), from now on.
    assert evening["evcc.loadpoints.1.planProjectedStart"] == EVENING + 7 * 3600 and evening["evcc.loadpoints.1.planProjectedEnd"] == EVENING + 10 * 3600
    assert night["evcc.loadpoints.1.planProjectedStart"] == EVENING + 7 * 3600 + 60 and night["evcc.loadpoints.1.planProjectedEnd"] == EVENING + 10 * 3600
    assert night["evcc.loadpoints.1.effectivePlanTime"] == 1768453200 and night["evcc.loadpoints.1.effectivePlanSoc"] == 80
    # Its slots are left out (`read`: the plan's own values are there, from GET …/plan).
    assert sorted(n for n in night if n == "evcc.loadpoints.1.plan" or n.startswith("evcc.loadpoints.1.plan.")) == sorted(PLAN)
    assert unplugged["evcc.loadpoints.1.planActive"] is False and "evcc.loadpoints.1.planProjectedStart" not in unplugged


def test_the_plan_has_the_same_names_over_mqtt_with_the_plan_itself_over_rest(broker):
    topic = "evcc-plan%d" % next(_ids)
    with EvccSimulator(broker=("127.0.0.1", broker.port), topic=topic, interval=0.2) as sim:
        planning(sim, EVENING + 7 * 3600 + 60)
        rest = Evcc("evcc", sim.url)
        rest.wanted = PLANNER + PLAN
        want = rest.poll()
        assert sorted(want) == sorted(PLANNER + PLAN)
        client = mqtt_client(broker)
        evcc = EvccMqtt("evcc", mqtt=client, topic=topic, url=sim.url, poll=0.2)
        seen = {}
        assert pump(client, [evcc], lambda: seen.update(evcc.poll()) or all(n in seen for n in PLANNER + PLAN))
        assert sim.sent["%s/loadpoints/1/plan" % topic].startswith('[{"start": "2026-01-15T02:01:00+01:00"')  # evcc's JSON text ...
        left = [n for n in seen if n == "evcc.loadpoints.1.plan" or (n.startswith("evcc.loadpoints.1.plan.") and n not in PLAN)]
        assert left == []  # ... left out, as over REST
        for name in PLANNER + PLAN:
            assert seen[name] == want[name], name
        client.close()
    gets = len(sim.plan_gets)
    assert gets >= 2  # every poll (0.2 s), not every turn of the loop
