"""The Enode simulator on its own, over real loopback HTTP (no sunshift code):
the token endpoint, lists, actions and the ways it can be told to misbehave."""

import base64
import http.client
import json
import ssl
import time
from urllib.parse import urlencode

import pytest
from simulators.base import CERT
from simulators.enode import (
    BATTERY_ID,
    CHARGER_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    HVAC_ID,
    INVERTER_ID,
    LOCATION_ID,
    METER_ID,
    OTHER_LOCATION_ID,
    OTHER_USER,
    OTHER_VEHICLE_ID,
    USER_ID,
    VEHICLE2_ID,
    VEHICLE_ID,
    VERSION,
    EnodeSim,
)

DELAY = 0.1  # how long actions stay PENDING here
BASIC = "Basic " + base64.b64encode(("%s:%s" % (CLIENT_ID, CLIENT_SECRET)).encode()).decode()


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def call(sim, method, path, body=None, headers=None, context=None):
    """One request to the simulator; the answer with its headers."""
    if context is not None:
        connection = http.client.HTTPSConnection("127.0.0.1", sim.port, timeout=5, context=context)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    sent = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        sent.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def token_request(sim, form=None, headers=None, context=None):
    form = form or {"grant_type": "client_credentials"}
    sent = {"Content-Type": "application/x-www-form-urlencoded"}
    sent.update({"Authorization": BASIC} if headers is None else headers)
    return call(sim, "POST", "/oauth2/token", urlencode(form), sent, context)


def token(sim):
    answer = token_request(sim)
    assert answer.status == 200, answer.body
    return answer.json()["access_token"]


class Api:
    """Calls with a bearer token, as a client of Enode would make them."""

    def __init__(self, sim):
        self.sim = sim
        self.token = token(sim)

    def __call__(self, method, path, body=None, headers=None):
        sent = {"Authorization": "Bearer " + self.token}
        sent.update(headers or {})
        return call(self.sim, method, path, body, sent)

    def get(self, path, **kw):
        return self("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self("POST", path, body, **kw)


@pytest.fixture
def sim():
    with EnodeSim(action_delay=DELAY) as s:
        yield s


@pytest.fixture
def api(sim):
    return Api(sim)


def settled(api, kind, action_id, timeout=3.0):
    """Poll the action until it leaves PENDING; its last answer."""
    end = time.monotonic() + timeout
    while True:
        action = api.get("/%s/actions/%s" % (kind, action_id)).json()
        if action["state"] != "PENDING" or time.monotonic() > end:
            return action
        time.sleep(0.02)


def is_problem(answer, status, slug):
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "https://docs.enode.io/api/problems/" + slug
    assert problem["title"] and problem["detail"]
    return problem


# --- the token endpoint ---------------------------------------------------------------


def test_a_token_for_basic_credentials(sim):
    answer = token_request(sim)
    assert answer.status == 200
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert (body["expires_in"], body["scope"], body["token_type"]) == (3599, "", "bearer")
    assert sim.tokens_issued == 1


def test_form_credentials_are_accepted_too(sim):
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert token_request(sim, form, headers={}).status == 200


def test_wrong_credentials_get_an_oauth_error_not_a_problem(sim):
    wrong = "Basic " + base64.b64encode(b"sunshift-test-client:nope").decode()
    answer = token_request(sim, headers={"Authorization": wrong})
    assert answer.status == 401
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == "invalid_client"
    assert answer.json()["error_description"]
    assert token_request(sim, headers={}).json()["error"] == "invalid_client"
    assert sim.tokens_issued == 0


def test_another_grant_is_unsupported(sim):
    answer = token_request(sim, {"grant_type": "password"})
    assert answer.status == 400
    assert answer.json() == {"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"}


def test_without_a_valid_token_the_api_answers_401(sim, api):
    assert api.get("/batteries/" + BATTERY_ID).status == 200
    sim.expire_tokens()
    problem = is_problem(api.get("/batteries/" + BATTERY_ID), 401, "unauthorized")
    assert problem == {
        "type": "https://docs.enode.io/api/problems/unauthorized",
        "title": "Unauthorized",
        "detail": "The request contained an invalid or expired token.",
    }
    is_problem(call(sim, "GET", "/batteries/" + BATTERY_ID), 401, "unauthorized")
    assert Api(sim).get("/batteries/" + BATTERY_ID).status == 200  # a new token works


def test_a_token_expires_after_its_lifetime():
    with EnodeSim(token_lifetime=0.2) as sim:
        api = Api(sim)
        assert api.get("/meters/" + METER_ID).status == 200
        time.sleep(0.3)
        assert api.get("/meters/" + METER_ID).status == 401


# --- reading devices ---------------------------------------------------------------------


def test_pages_of_one_walk_the_users_vehicles_and_never_another_users(api):
    seen = []
    path = "/users/%s/vehicles?pageSize=1" % USER_ID
    pages = 0
    while True:
        answer = api.get(path)
        assert answer.status == 200, answer.body
        page = answer.json()
        assert len(page["data"]) == 1
        seen += [v["id"] for v in page["data"]]
        pages += 1
        after = page["pagination"]["after"]
        if after is None:
            break
        assert pages < 5
        path = "/users/%s/vehicles?%s" % (USER_ID, urlencode({"pageSize": 1, "after": after}))
    assert seen == [VEHICLE_ID, VEHICLE2_ID]
    assert OTHER_VEHICLE_ID not in seen
    before = page["pagination"]["before"]
    assert before is not None
    back = api.get("/users/%s/vehicles?%s" % (USER_ID, urlencode({"pageSize": 1, "before": before}))).json()
    assert [v["id"] for v in back["data"]] == [VEHICLE_ID]
    assert back["pagination"]["before"] is None


def test_a_whole_list_fits_the_default_page(api):
    page = api.get("/users/%s/vehicles" % USER_ID).json()
    assert [v["id"] for v in page["data"]] == [VEHICLE_ID, VEHICLE2_ID]
    assert page["pagination"] == {"after": None, "before": None}
    other = api.get("/users/%s/vehicles" % OTHER_USER).json()
    assert [v["id"] for v in other["data"]] == [OTHER_VEHICLE_ID]
    assert api.get("/users/nobody/batteries").json() == {"data": [], "pagination": {"after": None, "before": None}}


@pytest.mark.parametrize("kind", ["chargers", "batteries", "hvacs", "inverters", "meters"])
def test_every_kind_has_a_user_list_with_one_device(api, kind):
    page = api.get("/users/%s/%s" % (USER_ID, kind)).json()
    assert len(page["data"]) == 1
    device = page["data"][0]
    assert device["userId"] == USER_ID and device["isReachable"] is True
    assert device["lastSeen"].endswith("Z") and "T" in device["lastSeen"]
    assert api.get("/%s/%s" % (kind, device["id"])).json() == device


def test_the_fleet_starts_as_the_brief_says(api):
    assert api.get("/batteries/" + BATTERY_ID).json()["config"]["operationMode"] == "SELF_RELIANCE"
    assert api.get("/meters/" + METER_ID).json()["energyState"]["power"] == -1.5
    thermostat = api.get("/hvacs/" + HVAC_ID).json()["thermostatState"]
    assert (thermostat["mode"], thermostat["heatSetpoint"], thermostat["holdType"]) == ("HEAT", 21, "SCHEDULED")
    vehicle = api.get("/vehicles/" + VEHICLE_ID).json()["chargeState"]
    assert (vehicle["isPluggedIn"], vehicle["isCharging"], vehicle["batteryLevel"]) == (True, False, 55)


def test_locations_and_a_vehicle_moved_away_from_home(sim, api):
    home = api.get("/locations/" + LOCATION_ID).json()
    assert set(home) == {"id", "userId", "name", "latitude", "longitude", "timezoneName"} and home["userId"] == USER_ID
    assert api.get("/users/%s/locations" % USER_ID).json() == {"data": [home], "pagination": {"after": None, "before": None}}
    assert [p["id"] for p in api.get("/locations").json()["data"]] == [LOCATION_ID, OTHER_LOCATION_ID]
    is_problem(api.get("/locations/nowhere"), 404, "not-found")
    for kind, device_id in (("vehicles", VEHICLE_ID), ("chargers", CHARGER_ID)):
        assert api.get("/%s/%s" % (kind, device_id)).json()["chargingLocationId"] == LOCATION_ID
    assert api.get("/vehicles/" + OTHER_VEHICLE_ID).json()["chargingLocationId"] == OTHER_LOCATION_ID
    sim.place("vehicles", VEHICLE_ID, None)  # a public charger
    car = api.get("/vehicles/" + VEHICLE_ID).json()
    assert car["chargingLocationId"] is None and (car["location"]["latitude"], car["location"]["longitude"]) != (home["latitude"], home["longitude"])
    office = sim.add_location("Office")
    sim.place("chargers", CHARGER_ID, office)
    assert api.get("/chargers/" + CHARGER_ID).json()["chargingLocationId"] == office
    page = api.get("/users/%s/locations?pageSize=1" % USER_ID).json()
    assert [p["id"] for p in page["data"]] == [LOCATION_ID] and page["pagination"]["after"]
    sim.place("vehicles", VEHICLE_ID, LOCATION_ID)
    assert api.get("/vehicles/" + VEHICLE_ID).json()["location"]["latitude"] == home["latitude"]


def test_an_unknown_device_and_a_bad_cursor(api):
    problem = is_problem(api.get("/vehicles/" + CHARGER_ID), 404, "not-found")
    assert problem["detail"] == "The requested entity was not found on the user's account."
    is_problem(api.get("/users/%s/vehicles?after=bm9wZQ==" % USER_ID), 400, "bad-request")
    is_problem(api.get("/users/%s/vehicles?pageSize=0" % USER_ID), 400, "bad-request")


def test_test_helpers_change_what_the_api_answers(sim, api):
    sim.set_value("meters", METER_ID, "energyState.power", 2.5)
    sim.set_seen("meters", METER_ID, 1795262400)
    sim.set_reachable("meters", METER_ID, False)
    meter = api.get("/meters/" + METER_ID).json()
    assert meter["energyState"]["power"] == 2.5
    assert meter["lastSeen"] == "2026-11-21T12:00:00Z"
    assert meter["isReachable"] is False


# --- versions, refresh hints -----------------------------------------------------------


def test_the_enode_version_sent_is_echoed_and_recorded(sim, api):
    answer = api.get("/meters/" + METER_ID, headers={"Enode-Version": "2024-10-01"})
    assert answer.headers["enode-version"] == "2024-10-01"
    assert api.get("/meters/" + METER_ID, headers={"Enode-Version": "2023-08-01"}).headers["enode-version"] == "2023-08-01"
    assert api.get("/meters/" + METER_ID).headers["enode-version"] == VERSION
    assert sim.versions_seen == {"2024-10-01", "2023-08-01"}
    sim.expire_tokens()
    assert api.get("/meters/" + METER_ID, headers={"Enode-Version": "2024-10-01"}).headers["enode-version"] == "2024-10-01"


def test_a_refresh_hint_is_204_and_recorded(sim, api):
    answer = api.post("/chargers/%s/refresh-hint" % CHARGER_ID)
    assert answer.status == 204 and answer.body == b""
    assert "content-type" not in answer.headers
    assert sim.refresh_hints == [("chargers", CHARGER_ID)]
    is_problem(api.post("/chargers/%s/refresh-hint" % VEHICLE_ID), 404, "not-found")


# --- actions ----------------------------------------------------------------------------


def test_a_battery_mode_action_goes_pending_then_confirmed_and_the_mode_changes(sim, api):
    sim.set_seen("batteries", BATTERY_ID, 1700000000)
    answer = api.post("/batteries/%s/operation-mode" % BATTERY_ID, {"operationMode": "IMPORT_FOCUS"})
    assert answer.status == 200, answer.body
    action = answer.json()
    assert action["state"] == "PENDING" and action["completedAt"] is None
    assert (action["targetId"], action["targetType"], action["userId"]) == (BATTERY_ID, "battery", USER_ID)
    assert action["targetState"] == {"operationMode": "IMPORT_FOCUS"}
    assert "failureReason" not in action and "kind" not in action
    assert api.get("/batteries/" + BATTERY_ID).json()["config"]["operationMode"] == "SELF_RELIANCE"
    done = settled(api, "batteries", action["id"])
    assert done["state"] == "CONFIRMED" and done["completedAt"]
    battery = api.get("/batteries/" + BATTERY_ID).json()
    assert battery["config"]["operationMode"] == "IMPORT_FOCUS"
    assert battery["lastSeen"] > "2023-11-14T22:13:20Z"  # moved to when the change happened
    assert sim.actions[action["id"]]["state"] == "CONFIRMED"


def test_a_charger_told_to_fail_ends_failed_with_a_reason(sim, api):
    sim.fail_actions(CHARGER_ID, "NO_RESPONSE", "The chargeable device remained unreachable.")
    action = api.post("/chargers/%s/charging" % CHARGER_ID, {"action": "START"}).json()
    assert (action["kind"], action["targetType"], action["failureReason"]) == ("START", "charger", None)
    done = settled(api, "chargers", action["id"])
    assert done["state"] == "FAILED"
    assert done["failureReason"] == {"type": "NO_RESPONSE", "detail": "The chargeable device remained unreachable."}
    assert api.get("/chargers/" + CHARGER_ID).json()["chargeState"]["isCharging"] is False


def test_a_charger_start_confirms_and_charges(api):
    action = api.post("/chargers/%s/charging" % CHARGER_ID, {"action": "START"}).json()
    assert settled(api, "chargers", action["id"])["state"] == "CONFIRMED"
    state = api.get("/chargers/" + CHARGER_ID).json()["chargeState"]
    assert (state["isCharging"], state["powerDeliveryState"]) == (True, "PLUGGED_IN:CHARGING")
    assert state["chargeRate"] > 0


def test_cancelling_a_pending_action_then_again(sim, api):
    sim.set_action_delay(5)
    action = api.post("/chargers/%s/max-current" % CHARGER_ID, {"maxCurrent": 10}).json()
    assert action["targetState"] == {"maxCurrent": 10}
    answer = api.post("/chargers/actions/%s/cancel" % action["id"])
    assert answer.status == 200
    assert answer.json()["state"] == "CANCELLED" and answer.json()["completedAt"]
    again = api.post("/chargers/actions/%s/cancel" % action["id"])
    assert again.status == 409
    assert again.headers["content-type"] == "application/json"
    assert again.json()["id"] == action["id"] and again.json()["state"] == "CANCELLED"
    is_problem(api.post("/chargers/actions/%s/cancel" % "no-such-action"), 404, "not-found")
    is_problem(api.get("/batteries/actions/" + action["id"]), 404, "not-found")  # a charger's action
    assert api.get("/chargers/" + CHARGER_ID).json()["chargeState"]["maxCurrent"] == 16


def test_a_newer_battery_action_cancels_the_pending_one(sim, api):
    sim.set_action_delay(5)
    first = api.post("/batteries/%s/operation-mode" % BATTERY_ID, {"operationMode": "IMPORT_FOCUS"}).json()
    second = api.post("/batteries/%s/operation-mode" % BATTERY_ID, {"operationMode": "EXPORT_FOCUS"}).json()
    assert api.get("/batteries/actions/" + first["id"]).json()["state"] == "CANCELLED"
    assert api.get("/batteries/actions/" + second["id"]).json()["state"] == "PENDING"


def test_a_vehicle_reuses_a_pending_charge_action_of_the_same_kind(sim, api):
    sim.set_action_delay(5)
    first = api.post("/vehicles/%s/charging" % VEHICLE_ID, {"action": "START"}).json()
    assert api.post("/vehicles/%s/charging" % VEHICLE_ID, {"action": "START"}).json()["id"] == first["id"]
    stop = api.post("/vehicles/%s/charging" % VEHICLE_ID, {"action": "STOP"}).json()
    assert stop["id"] != first["id"]
    cancelled = api.get("/vehicles/actions/" + first["id"]).json()
    assert cancelled["state"] == "CANCELLED" and cancelled["failureReason"]["type"] == "CONFLICT"


def test_controlled_charging_is_422_but_a_smart_override_starts_it(sim, api):
    sim.controlled("vehicles", VEHICLE_ID)
    problem = is_problem(api.post("/vehicles/%s/charging" % VEHICLE_ID, {"action": "START"}), 422, "enode-controlled-entity")
    assert problem["title"] == "Enode Controlled Entity"
    override = api.post("/vehicles/%s/smart-override" % VEHICLE_ID)
    assert override.status == 200, override.body
    body = override.json()
    assert (body["targetType"], body["targetId"], body["endedAt"], body["userId"]) == ("vehicle", VEHICLE_ID, None, USER_ID)
    assert settled(api, "vehicles", body["vendorActionId"])["state"] == "CONFIRMED"
    assert api.get("/vehicles/" + VEHICLE_ID).json()["chargeState"]["isCharging"] is True
    ended = api("DELETE", "/vehicles/%s/smart-override" % VEHICLE_ID)
    assert ended.status == 200 and ended.json()["endedAt"]
    assert is_problem(api("DELETE", "/vehicles/%s/smart-override" % VEHICLE_ID), 404, "not-found")["detail"] == "No Smart Override Exists"
    sim.controlled("vehicles", VEHICLE_ID, False)
    assert api.post("/vehicles/%s/charging" % VEHICLE_ID, {"action": "STOP"}).status == 200


def test_an_hvac_hold_then_back_to_the_schedule(api):
    action = api.post("/hvacs/%s/permanent-hold" % HVAC_ID, {"mode": "COOL", "coolSetpoint": 22}).json()
    assert (action["targetType"], action["target"]) == ("hvac", {"mode": "COOL", "coolSetpoint": 22, "holdType": "PERMANENT"})
    assert settled(api, "hvacs", action["id"])["state"] == "CONFIRMED"
    thermostat = api.get("/hvacs/" + HVAC_ID).json()["thermostatState"]
    assert (thermostat["mode"], thermostat["coolSetpoint"], thermostat["holdType"]) == ("COOL", 22, "PERMANENT")
    back = api.post("/hvacs/%s/follow-schedule" % HVAC_ID).json()
    assert back["target"] == {"holdType": "SCHEDULED"}
    assert settled(api, "hvacs", back["id"])["state"] == "CONFIRMED"
    hvac = api.get("/hvacs/" + HVAC_ID).json()
    assert (hvac["thermostatState"]["mode"], hvac["thermostatState"]["holdType"], hvac["holdType"]) == ("HEAT", "SCHEDULED", "SCHEDULED")


@pytest.mark.parametrize(
    "path, body, words",
    [
        ("/vehicles/%s/charging" % VEHICLE_ID, {"action": "GO"}, "must be one of"),
        ("/chargers/%s/charging" % CHARGER_ID, {}, "is required"),
        ("/chargers/%s/max-current" % CHARGER_ID, {"maxCurrent": "10"}, "must be a number"),
        ("/vehicles/%s/max-current" % VEHICLE2_ID, {"maxCurrent": 10}, "setMaxCurrent"),
        ("/batteries/%s/operation-mode" % BATTERY_ID, {"operationMode": "SELF_RELIANCE", "extra": 1}, "is not allowed"),
        ("/hvacs/%s/permanent-hold" % HVAC_ID, {"mode": "HEAT", "coolSetpoint": 20}, "is not allowed"),
        ("/hvacs/%s/permanent-hold" % HVAC_ID, {"mode": "HEAT", "heatSetpoint": 45}, "outside"),
        ("/hvacs/%s/permanent-hold" % HVAC_ID, {"mode": "AUTO", "heatSetpoint": 20, "coolSetpoint": 21}, "coolSetpoint - heatSetpoint"),
        ("/batteries/%s/operation-mode" % BATTERY_ID, None, "body is required"),
    ],
)
def test_a_bad_command_body_is_400_with_a_clear_detail(api, path, body, words):
    problem = is_problem(api.post(path, body), 400, "bad-request")
    assert words in problem["detail"], problem


# --- misbehaving on request ---------------------------------------------------------------


def test_rate_limited_requests_get_429_with_retry_after_and_tokens_still_come(sim, api):
    sim.rate_limit(2, retry_after=3)
    for _ in range(2):
        answer = api.get("/meters/" + METER_ID)
        is_problem(answer, 429, "too-many-requests")
        assert answer.headers["retry-after"] == "3"
        assert answer.headers["enode-version"] == VERSION
    assert token_request(sim).status == 200
    assert api.get("/meters/" + METER_ID).status == 200


@pytest.mark.parametrize(
    "status, slug", [(400, "bad-request"), (403, "forbidden"), (404, "not-found"), (424, "failed-dependency"), (503, "service-unavailable")]
)
def test_a_problem_on_request_under_a_prefix(sim, api, status, slug):
    sim.problem_next(status, "/meters", count=2)
    assert api.get("/batteries/" + BATTERY_ID).status == 200  # another prefix
    is_problem(api.get("/meters/" + METER_ID), status, slug)
    is_problem(api.get("/meters/" + METER_ID), status, slug)
    assert api.get("/meters/" + METER_ID).status == 200


def test_a_problem_without_a_prefix_spares_the_token_endpoint(sim, api):
    sim.problem_next(500)
    assert token_request(sim).status == 200
    assert "missing control scope" not in is_problem(api.get("/meters/" + METER_ID), 500, "server-error")["detail"]
    sim.problem_next(403)
    assert "missing control scope" in is_problem(api.get("/meters/" + METER_ID), 403, "forbidden")["detail"]
    sim.problem_next(503, "/oauth2")
    is_problem(token_request(sim), 503, "service-unavailable")
    with pytest.raises(ValueError):
        sim.problem_next(418)


def test_the_base_faults_still_work(sim, api):
    sim.fail("unauthorized")
    is_problem(api.get("/meters/" + METER_ID), 401, "unauthorized")
    sim.fail("http503")
    assert api.get("/meters/" + METER_ID).status == 503
    sim.fail("truncated")
    answer = api.get("/meters/" + METER_ID)
    with pytest.raises(ValueError):
        answer.json()
    sim.heal()
    assert api.get("/meters/" + METER_ID).json()["id"] == METER_ID


# --- smart charging, schedules, statistics, health --------------------------------------


def put(api, path, body):
    return api("PUT", path, body)


def test_a_smart_charging_policy_is_read_set_and_a_plan_then_refuses_manual_charging(sim, api):
    path = "/vehicles/%s/smart-charging-policy" % VEHICLE_ID
    assert api.get(path).json() == {"isEnabled": False, "deadline": None, "minimumChargeLimit": 0}
    assert api.get("/vehicles/%s/smart-charging-status" % VEHICLE_ID).json()["state"] == "DISABLED"
    assert "HH:MM" in is_problem(put(api, path, {"isEnabled": True, "deadline": "7am"}), 400, "bad-request")["detail"]
    assert "charge limit" in is_problem(put(api, path, {"minimumChargeLimit": 95}), 400, "bad-request")["detail"]
    is_problem(put(api, path, {"isEnabled": True, "colour": "red"}), 400, "bad-request")
    assert put(api, path, {"isEnabled": True, "deadline": "07:00", "minimumChargeLimit": 20}).json() == {
        "isEnabled": True,
        "deadline": "07:00",
        "minimumChargeLimit": 20,
    }
    assert api.get("/vehicles/" + VEHICLE_ID).json()["smartChargingPolicy"]["deadline"] == "07:00"
    status = api.get("/vehicles/%s/smart-charging-status" % VEHICLE_ID).json()
    assert status["state"] == "PLAN:EXECUTING:STOPPED" and status["consideration"]["atChargingLocation"] is True
    plan = status["plan"]
    assert plan["estimatedFinishAt"].endswith("T07:00:00Z") and plan["endedAt"] is None
    assert api.get("/vehicles/%s/smart-charging-plans/latest" % VEHICLE_ID).json()["id"] == plan["id"]
    assert api.get("/vehicles/%s/smart-charging-plans/%s" % (VEHICLE_ID, plan["id"])).json() == plan
    is_problem(api.get("/vehicles/%s/smart-charging-plans/nope" % VEHICLE_ID), 404, "not-found")
    is_problem(api.post("/vehicles/%s/charging" % VEHICLE_ID, {"action": "START"}), 422, "enode-controlled-entity")
    assert api.post("/vehicles/%s/smart-override" % VEHICLE_ID).status == 200
    assert api.get("/vehicles/%s/smart-charging-status" % VEHICLE_ID).json()["state"] == "PLAN:EXECUTING:OVERRIDDEN"
    # Switched off (isEnabled left out takes its default, false): the plan ends, manual charging goes.
    assert put(api, path, {"deadline": "07:00"}).json()["isEnabled"] is False
    assert api.get("/vehicles/%s/smart-charging-plans/latest" % VEHICLE_ID).json()["finalState"] == "PLAN:ENDED:DISABLED"
    assert api.post("/vehicles/%s/charging" % VEHICLE_ID, {"action": "STOP"}).status == 200
    is_problem(api.get("/vehicles/%s/smart-charging-status" % CHARGER_ID), 404, "not-found")


def test_schedules_are_made_listed_read_and_an_enabled_one_controls_its_charger(sim, api):
    base = "/users/%s/schedules" % USER_ID
    assert api.get(base).json() == {"data": [], "pagination": {"after": None, "before": None}}
    rule = {"hourMinute": {"from": "23:00", "to": "06:00"}, "shouldCharge": True}
    made = api.post(base, {"isEnabled": True, "defaultShouldCharge": False, "rules": [rule], "targetId": CHARGER_ID, "targetType": "charger"})
    assert made.status == 200, made.body
    schedule = made.json()
    assert schedule["targetId"] == CHARGER_ID and schedule["rules"] == [rule]
    assert [s["id"] for s in api.get(base).json()["data"]] == [schedule["id"]]
    assert api.get("/schedules/" + schedule["id"]).json() == schedule
    status = api.get("/schedules/%s/status" % schedule["id"]).json()
    assert status["scheduleId"] == schedule["id"] and status["state"] in ("ALIGNED", "MISALIGNED")
    assert [t["shouldCharge"] for t in status["upcomingTransitions"]] in ([True, False], [False, True])
    assert len(status["upcomingTransitions"]) == 2 and status["isChargingExpectedParts"]["isPluggedIn"] is True
    is_problem(api.post("/chargers/%s/charging" % CHARGER_ID, {"action": "START"}), 422, "enode-controlled-entity")
    assert put(api, "/schedules/" + schedule["id"], {"isEnabled": False}).json()["isEnabled"] is False
    assert api.get("/schedules/%s/status" % schedule["id"]).json()["state"] == "DISABLED"
    assert api.post("/chargers/%s/charging" % CHARGER_ID, {"action": "START"}).status == 200
    assert (
        "shouldCharge"
        in is_problem(api.post(base, {"isEnabled": True, "defaultShouldCharge": True, "rules": [{}], "targetType": "vehicle"}), 400, "bad-request")["detail"]
    )
    is_problem(
        api.post(base, {"isEnabled": True, "defaultShouldCharge": True, "rules": [], "targetId": OTHER_VEHICLE_ID, "targetType": "vehicle"}), 404, "not-found"
    )
    assert api("DELETE", "/schedules/" + schedule["id"]).status == 204
    is_problem(api.get("/schedules/" + schedule["id"]), 404, "not-found")
    is_problem(api.get("/schedules"), 404, "not-found")  # moved under the user in 2023-08-01


def test_statistics_by_utc_day_for_one_device_or_all(sim, api):
    today = time.strftime("%Y-%m-%dT00:00:00.000Z", time.gmtime())
    yesterday = time.strftime("%Y-%m-%dT00:00:00.000Z", time.gmtime(time.time() - 86400))
    base = "/users/%s/statistics/" % USER_ID
    assert "startDate" in is_problem(api.get(base + "charging"), 400, "bad-request")["detail"]
    sim.set_statistics("vehicle", VEHICLE_ID, kwhSum=12.5, costSum=30.1)
    one = api.get(base + "charging?startDate=%s&resolution=DAY&type=vehicle&id=%s" % (today, VEHICLE_ID)).json()
    assert len(one) == 1 and (one[0]["kwhSum"], one[0]["costSum"], one[0]["date"]) == (12.5, 30.1, today.replace(".000", ""))
    both = api.get(base + "charging?startDate=%s&type=vehicle" % yesterday).json()
    assert [b["kwhSum"] for b in both] == [20.0, 12.5]  # two vehicles' days: 10 kWh each yesterday
    assert api.get(base + "charging?startDate=%s&type=charger&id=%s" % (today, CHARGER_ID)).json()[0]["kwhSum"] == 0
    sim.set_statistics("inverter", INVERTER_ID, kwhSum=18.0, earningsSum=9.5)
    made = api.get(base + "production?startDate=%s&id=%s" % (today, INVERTER_ID)).json()
    assert (made[0]["kwhSum"], made[0]["earningsSum"]) == (18.0, 9.5) and "costSum" not in made[0]
    is_problem(api.get(base + "charging?startDate=%s&type=vehicle&id=%s" % (today, OTHER_VEHICLE_ID)), 404, "not-found")
    is_problem(api.get(base + "charging?startDate=%s&type=battery" % today), 400, "bad-request")


def test_health_ready_is_204_and_an_outage_is_503_everywhere_but_the_token(sim, api):
    ready = api.get("/health/ready")
    assert ready.status == 204 and ready.body == b""
    sim.outage()
    down = api.get("/health/ready")
    assert down.status == 503 and down.body == b""
    is_problem(api.get("/vehicles/" + VEHICLE_ID), 503, "service-unavailable")
    assert token_request(sim).status == 200
    sim.outage(False)
    assert api.get("/health/ready").status == 204


def test_over_tls():
    with EnodeSim(tls=True) as sim:
        context = ssl.create_default_context(cafile=CERT)
        context.check_hostname = False
        answer = token_request(sim, context=context)
        assert answer.status == 200 and sim.url.startswith("https://")
