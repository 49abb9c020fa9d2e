"""The Enode adapter without a network (also under MicroPython): times, commands,
problems, the token, pages, ages, actions, slowing down.  tests/host/test_enode.py
runs it against the simulator over loopback HTTP."""

import json

from sunshift.devices import enode
from sunshift.errors import DeviceError, ValueRefused
from support import raises

BATTERY = "54d827e1-8355-4fed-97b5-55940d1d09ba"
CAR = "05ee9df5-d072-4ee8-b773-399dec8f5693"
HOME = "4eaeb363-296d-4ccc-a973-7805e6f400bd"
NOW_UNIX = 1795262400  # 2026-11-21T12:00:00Z


class Log:
    def __init__(self):
        self.lines = []

    def info(self, source, text):
        self.lines.append(("info", source, text))

    def warn(self, source, text):
        self.lines.append(("warn", source, text))

    def text(self):
        return "\n".join("%s %s %s" % line for line in self.lines)


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


class Cloud:
    """A small in-memory Enode: answers (status, headers, body) to what the adapter sends."""

    def __init__(self):
        self.calls = []
        self.tokens = 0
        self.valid = set()
        self.queue = []  # canned (status, headers, body) answers served first
        self.devices = {
            "batteries": [
                {
                    "id": BATTERY,
                    "userId": "u1",
                    "lastSeen": "2026-11-21T11:58:20Z",
                    "isReachable": True,
                    "chargeState": {"batteryLevel": 80, "chargeRate": None},
                    "config": {"operationMode": "SELF_RELIANCE"},
                    "capabilities": {"importFocus": {"isCapable": True}},
                }
            ],
            "vehicles": [
                {"id": "other", "lastSeen": "2026-11-21T11:00:00Z", "isReachable": True, "chargeState": {"batteryLevel": 10}, "chargingLocationId": None},
                {"id": CAR, "lastSeen": "2026-11-21T09:00:00Z", "isReachable": False, "chargeState": {"batteryLevel": 55}, "chargingLocationId": HOME},
            ],
            "locations": [{"id": HOME, "userId": "u1", "name": "Home", "latitude": 59.91, "longitude": 10.72, "timezoneName": "Europe/Oslo"}],
        }
        self.actions = {}
        self.down = False  # /health/ready answers 503
        self.today = [{"kwhSum": 12.5, "costSum": 30.1, "estimatedSavings": None, "date": "2026-11-21T00:00:00.000Z"}]
        self.status = {"vehicleId": CAR, "state": "PLAN:EXECUTING:STOPPED", "plan": {"id": "p1", "startAt": "2026-11-22T03:00:00Z"}, "smartOverride": None}

    def request(self, method, url, headers=None, body=None, timeout=5):
        path = url[url.find("/", 8) :]
        self.calls.append((method, path, dict(headers or {}), body))
        if self.queue:
            return self.queue.pop(0)
        if path == "/oauth2/token":
            self.tokens += 1
            token = "tok%d" % self.tokens
            self.valid.add(token)
            return 200, {}, json.dumps({"access_token": token, "expires_in": 3599, "token_type": "bearer"}).encode()
        if headers.get("Authorization", "")[7:] not in self.valid:
            return 401, {}, b'{"title": "Unauthorized", "detail": "The request contained an invalid or expired token."}'
        if path == "/health/ready":
            return (503, {}, b"") if self.down else (204, {}, b"")
        if path.startswith("/users/u1/statistics/"):
            return 200, {}, json.dumps(self.today).encode()
        if path.endswith("/smart-charging-status"):
            return 200, {}, json.dumps(self.status).encode()
        if path.endswith("/smart-charging-policy"):
            return 200, {}, body
        if path.startswith("/schedules/"):
            return 200, {}, b'{"scheduleId": "s1", "state": "ALIGNED", "isChargingExpected": false}'
        if path.startswith("/users/u1/"):
            kind = path.split("/")[3].split("?")[0]
            items = self.devices.get(kind, [])
            start = int(path.split("after=")[1]) if "after=" in path else 0
            page = items[start : start + 1]  # one device a page
            after = str(start + 1) if start + 1 < len(items) else None
            return 200, {}, json.dumps({"data": page, "pagination": {"after": after, "before": None}}).encode()
        if path.endswith("/operation-mode") or path.endswith("/charging"):
            number = "a%d" % (len(self.actions) + 1)
            self.actions[number] = {"id": number, "state": "PENDING", "targetId": path.split("/")[2]}
            return 200, {}, json.dumps(self.actions[number]).encode()
        if "/actions/" in path:
            number = path.split("/")[3]
            action = self.actions.get(number)
            if action is None:
                return 404, {}, b'{"title": "Not Found"}'
            if path.endswith("/cancel"):
                if action["state"] != "PENDING":
                    return 409, {}, json.dumps(action).encode()
                action["state"] = "CANCELLED"
            return 200, {}, json.dumps(action).encode()
        if path.endswith("/refresh-hint"):
            return 204, {}, b""
        if path.startswith("/locations/"):  # one location by ID
            found = [p for p in self.devices["locations"] if p["id"] == path[11:]]
            return (200, {}, json.dumps(found[0]).encode()) if found else (404, {}, b'{"title": "Not Found"}')
        if path.startswith("/locations?"):  # every location of the client, on one page
            return 200, {}, json.dumps({"data": self.devices["locations"], "pagination": {"after": None, "before": None}}).encode()
        kind, _, device_id = path[1:].partition("/")
        for device in self.devices.get(kind, ()):  # one device by ID
            if device["id"] == device_id:
                return 200, {}, json.dumps(device).encode()
        return 404, {}, b'{"title": "Not Found"}'

    def close(self):
        pass

    def paths(self, method=None):
        return [c[1] for c in self.calls if method is None or c[0] == method]


def make(cloud=None, log=None, clock=None, **options):
    cloud = cloud or Cloud()
    aliases = options.pop("aliases", {"batteries": {"home": BATTERY}, "vehicles": {"car": CAR}})
    adapter = enode.Enode(
        "enode",
        "https://api.test",
        "https://oauth.test/oauth2/token",
        "client",
        "secret",
        aliases,
        options.pop("user", "u1"),
        session=cloud,
        log=log or Log(),
        ticks_ms=clock or Clock(),
        unix_time=lambda: NOW_UNIX,
        **options,
    )
    return adapter, cloud


def test_iso_times_from_enode():
    assert enode.iso_unix("1970-01-01T00:00:00Z") == 0
    assert enode.iso_unix("2026-11-21T12:00:00Z") == NOW_UNIX
    assert enode.iso_unix("2024-02-29T23:59:59.123Z") == 1709251199
    assert enode.iso_unix("2026-11-21T13:00:00+01:00") == NOW_UNIX
    assert enode.iso_unix("2026-11-21T12:00:00") == NOW_UNIX
    for bad in ("yesterday", "2026-13-01T00:00:00Z", "2026-11-21T12:00:00 UTC", None, 5):
        assert enode.iso_unix(bad) is None, bad


def test_commands_and_their_bodies():
    assert enode.command("batteries", "operationMode", "B", "import_focus", "t") == ("POST", "/batteries/B/operation-mode", {"operationMode": "IMPORT_FOCUS"})
    assert enode.command("vehicles", "charging", "V", True, "t") == ("POST", "/vehicles/V/charging", {"action": "START"})
    assert enode.command("chargers", "charging", "C", "stop", "t") == ("POST", "/chargers/C/charging", {"action": "STOP"})
    assert enode.command("chargers", "maxCurrent", "C", 10, "t") == ("POST", "/chargers/C/max-current", {"maxCurrent": 10})
    assert enode.command("hvacs", "hold", "H", "HEAT 21.5", "t") == ("POST", "/hvacs/H/permanent-hold", {"mode": "HEAT", "heatSetpoint": 21.5})
    assert enode.command("hvacs", "hold", "H", "auto 19 24", "t")[2] == {"mode": "AUTO", "heatSetpoint": 19, "coolSetpoint": 24}
    assert enode.command("hvacs", "hold", "H", "OFF", "t")[2] == {"mode": "OFF"}
    assert enode.command("hvacs", "hold", "H", "follow_schedule", "t") == ("POST", "/hvacs/H/follow-schedule", None)
    assert enode.command("vehicles", "smartOverride", "V", False, "t") == ("DELETE", "/vehicles/V/smart-override", None)
    assert "IMPORT_FOCUS" in str(raises(ValueRefused, enode.command, "batteries", "operationMode", "B", "FULL", "x.mode"))
    assert "1 to 125 A" in str(raises(ValueRefused, enode.command, "chargers", "maxCurrent", "C", 500, "x"))
    assert "HEAT 21" in str(raises(ValueRefused, enode.command, "hvacs", "hold", "H", "HEAT", "x"))
    assert "true (start)" in str(raises(ValueRefused, enode.command, "vehicles", "charging", "V", 3, "x"))


def test_problems_say_what_enode_said_and_how_long_to_wait():
    e = enode.problem_error(
        "enode", "POST /vehicles/V/charging", 422, b'{"type": "x", "title": "Enode Controlled Entity", "detail": "Vehicle controlled by a Schedule"}'
    )
    assert e.kind == "conflict" and e.retry_after == 300
    assert "smart charging or a schedule" in str(e) and "Enode Controlled Entity: Vehicle controlled by a Schedule" in str(e)
    e = enode.problem_error("enode", "GET /x", 403, b'{"title": "Forbidden"}')
    assert e.kind == "auth" and "control scope" in str(e)
    e = enode.problem_error("enode", "GET /x", 502, b"<html><body>Bad gateway</body></html>")
    assert e.kind == "server" and "an HTML page" in str(e)
    for status in (405, 408, 409, 424):
        assert enode.problem_error("enode", "GET /x", status, b"").kind == "vendor"


def test_signals_follow_pages_and_carry_the_age_of_their_data():
    adapter, cloud = make()
    signals = adapter.poll()
    assert signals["enode.batteries.home.chargeState.batteryLevel"] == 80
    assert signals["enode.batteries.home.config.operationMode"] == "SELF_RELIANCE"
    assert signals["enode.vehicles.car.chargeState.batteryLevel"] == 55  # from the second page
    assert "enode.batteries.home.capabilities.importFocus.isCapable" not in signals
    assert "enode.batteries.home.chargeState.chargeRate" not in signals  # null is no value
    assert [p for p in cloud.paths() if p.startswith("/users/u1/vehicles")] == ["/users/u1/vehicles?pageSize=50", "/users/u1/vehicles?pageSize=50&after=1"]
    assert adapter.age_of("enode.batteries.home.chargeState.batteryLevel") == 100  # lastSeen 11:58:20, now 12:00
    assert adapter.age_of("enode.vehicles.car.chargeState.batteryLevel") is None  # not reachable: stale at once
    assert adapter.age_of("enode.vehicles.car.isReachable") == 0
    token_calls = [c for c in cloud.calls if c[1] == "/oauth2/token"]
    assert len(token_calls) == 1 and token_calls[0][2]["Authorization"] == "Basic Y2xpZW50OnNlY3JldA=="  # client:secret
    assert token_calls[0][3] == "grant_type=client_credentials"
    api = [c for c in cloud.calls if c[1] != "/oauth2/token"]
    assert all(c[2]["Enode-Version"] == enode.VERSION and c[2]["Authorization"] == "Bearer tok1" for c in api)


def test_a_device_enode_does_not_have_is_logged_once():
    log = Log()
    adapter, _ = make(log=log, aliases={"batteries": {"home": BATTERY, "garage": "nope"}})
    adapter.poll()
    adapter.poll()
    found = [line for line in log.lines if "nope" in line[2]]
    assert found == [("warn", "enode.batteries.garage", "Enode has no battery with ID nope for user u1; its signals stay stale")]


def test_the_token_is_fetched_again_before_it_runs_out_and_once_on_a_401():
    clock = Clock()
    adapter, cloud = make(clock=clock)
    adapter.poll()
    clock.ms = (3599 - 60 - 1) * 1000
    adapter.poll()
    assert cloud.tokens == 1
    clock.ms += 2000  # within the last minute of its hour
    adapter.poll()
    assert cloud.tokens == 2
    cloud.valid.clear()  # revoked early: the next call gets a 401, fetches one token, and goes on
    adapter.poll()
    assert cloud.tokens == 3
    cloud.valid.clear()  # revoked, and the fresh token is refused too: an error, after one new token only
    cloud.queue = [(401, {}, b"{}"), (200, {}, b'{"access_token": "LEAKME", "expires_in": 3599}'), (401, {}, b"{}")]
    e = raises(DeviceError, adapter.poll)
    assert e.kind == "auth" and "freshly fetched token" in str(e) and "LEAKME" not in str(e)
    assert not cloud.queue


def test_refused_credentials_say_where_to_look_without_the_secret():
    adapter, cloud = make()
    cloud.queue = [(401, {}, b'{"error": "invalid_client"}')]
    e = raises(DeviceError, adapter.poll)
    assert "client_id and client_secret" in str(e) and "secret'" not in str(e) and "Y2xp" not in str(e)


def test_429_waits_retry_after_and_calls_nothing_meanwhile():
    clock = Clock()
    adapter, cloud = make(clock=clock)
    adapter.poll()
    cloud.queue = [(429, {"retry-after": "7"}, b'{"title": "Too Many Requests"}')]
    e = raises(DeviceError, adapter.poll)
    assert e.kind == "busy" and e.retry_after >= 7 and "slow down" in str(e)
    calls = len(cloud.calls)
    clock.ms += 5000
    e = raises(DeviceError, adapter.poll)
    assert e.kind == "busy" and len(cloud.calls) == calls  # nothing sent while waiting
    clock.ms += 4000  # 7 s and up to a quarter more
    assert adapter.poll()["enode.batteries.home.chargeState.batteryLevel"] == 80


def test_503_without_retry_after_backs_off_doubling_with_jitter():
    clock = Clock()
    adapter, cloud = make(clock=clock)
    waits = []
    cloud.queue = [(503, {}, b"")]  # the token endpoint is busy too: the same pause
    waits.append(raises(DeviceError, adapter.poll).retry_after)
    clock.ms += waits[0] * 1000 + 1
    for _ in range(3):
        cloud.queue = [(503, {}, b"")]
        e = raises(DeviceError, adapter.poll)
        waits.append(e.retry_after)
        clock.ms += e.retry_after * 1000 + 1
    assert 2 <= waits[0] <= 3 and waits[1] >= 3 and 6 <= waits[2] <= 10 and 12 <= waits[3] <= 20, waits
    assert adapter.poll()["enode.batteries.home.chargeState.batteryLevel"] == 80  # and then it answers again


def test_an_action_is_followed_until_enode_confirms_it():
    clock = Clock()
    log = Log()
    adapter, cloud = make(clock=clock, log=log)
    adapter.write("enode.batteries.home.operationMode", "IMPORT_FOCUS")
    post = next(c for c in cloud.calls if c[1].endswith("/operation-mode"))
    assert json.loads(post[3]) == {"operationMode": "IMPORT_FOCUS"} and post[2]["Content-Type"] == "application/json"
    adapter.work(clock.ms + 1000)
    assert not [p for p in cloud.paths() if "/actions/" in p]  # not due yet
    clock.ms = 2000
    adapter.work(clock.ms)
    assert cloud.paths()[-1] == "/batteries/actions/a1"
    clock.ms = 3000
    adapter.work(clock.ms)
    assert cloud.paths()[-1] == "/batteries/actions/a1"  # the next look waits 4 s
    assert len([p for p in cloud.paths() if "/actions/" in p]) == 1
    cloud.actions["a1"]["state"] = "CONFIRMED"
    clock.ms = 6000
    adapter.work(clock.ms)
    assert not adapter.pending and "Enode confirmed IMPORT_FOCUS (action a1, after 6 s)" in log.text()
    clock.ms = 100000
    adapter.work(clock.ms)
    assert len([p for p in cloud.paths() if "/actions/" in p]) == 2


def test_a_changed_mind_cancels_our_pending_action_first():
    log = Log()
    adapter, cloud = make(log=log)
    adapter.write("enode.batteries.home.operationMode", "IMPORT_FOCUS")
    adapter.write("enode.batteries.home.operationMode", "IMPORT_FOCUS")  # the same: nothing new
    assert len([p for p in cloud.paths() if p.endswith("/operation-mode")]) == 1
    adapter.write("enode.batteries.home.operationMode", "SELF_RELIANCE")
    tail = cloud.paths("POST")[-2:]
    assert tail == ["/batteries/actions/a1/cancel", "/batteries/%s/operation-mode" % BATTERY]
    assert cloud.actions["a1"]["state"] == "CANCELLED" and adapter.pending["enode.batteries.home.operationMode"].id == "a2"
    assert "cancelled our pending action a1" in log.text()


def test_a_failed_action_is_logged_with_its_reason_and_not_repeated():
    clock = Clock()
    log = Log()
    adapter, cloud = make(clock=clock, log=log)
    adapter.poll()  # Enode places the car at home: the start may go
    adapter.write("enode.vehicles.car.charging", True)
    cloud.actions["a1"].update(state="FAILED", failureReason={"type": "NO_RESPONSE", "detail": "The vehicle did not respond"})
    clock.ms = 2000
    adapter.work(clock.ms)
    assert "Enode could not set true (action a1 failed: NO_RESPONSE, The vehicle did not respond)" in log.text()
    posts = len(cloud.paths("POST"))
    clock.ms = 600000
    adapter.work(clock.ms)
    assert len(cloud.paths("POST")) == posts and not adapter.pending


def test_writes_refuse_unknown_targets_and_dry_run_shows_the_request():
    adapter, _ = make()
    assert "not a writable Enode setting" in str(raises(DeviceError, adapter.write, "enode.batteries.home.batteryLevel", 5))
    assert "names no vehicle 'van' under vehicles (car)" in str(raises(DeviceError, adapter.write, "enode.vehicles.van.charging", True))
    text = adapter.describe("enode.batteries.home.operationMode", "IMPORT_FOCUS")
    assert text == 'create an Enode action: POST /batteries/%s/operation-mode {"operationMode": "IMPORT_FOCUS"}' % BATTERY


def test_refresh_hints_only_for_old_data_the_rules_read_and_not_too_often():
    clock = Clock()
    adapter, cloud = make(clock=clock, refresh_after=60)
    adapter.poll()
    assert not [p for p in cloud.paths() if p.endswith("refresh-hint")]  # no rule reads anything
    adapter.wanted = ("enode.batteries.home.chargeState.batteryLevel", "enode.vehicles.car.chargeState.batteryLevel")
    adapter.poll()  # the battery's data is 100 s old; the car is unreachable (a hint would not help)
    assert [p for p in cloud.paths() if p.endswith("refresh-hint")] == ["/batteries/%s/refresh-hint" % BATTERY]
    clock.ms = 30000
    adapter.poll()
    assert len([p for p in cloud.paths() if p.endswith("refresh-hint")]) == 1
    clock.ms = 61000
    adapter.poll()
    assert len([p for p in cloud.paths() if p.endswith("refresh-hint")]) == 2


def starts(cloud):
    return [c for c in cloud.calls if c[1].endswith("/charging") and json.loads(c[3]) == {"action": "START"}]


def test_charging_is_switched_at_home_and_neither_started_nor_stopped_away():
    log = Log()
    adapter, cloud = make(log=log)
    signals = adapter.poll()
    assert signals["enode.vehicles.car.atHome"] is True and "/users/u1/locations?pageSize=5" in cloud.paths()
    assert ("info", "enode", "home: the user's only Enode location, 'Home' (%s)" % HOME) in log.lines
    assert "enode.vehicles.car.chargingLocationId" not in signals  # IDs stay out of the signals
    adapter.write("enode.vehicles.car.charging", True)
    assert len(starts(cloud)) == 1
    cloud.devices["vehicles"][1]["chargingLocationId"] = None  # at a public charger
    assert adapter.poll()["enode.vehicles.car.atHome"] is False
    for target, value in (("enode.vehicles.car.charging", "start"), ("enode.vehicles.car.smartOverride", True)):
        e = raises(DeviceError, adapter.write, target, value)
        assert e.kind == "away" and "no start away from home: Enode places the vehicle 'car' at none of the user's locations" in str(e)
        assert '"charge_away": ["car"] in the config allows it' in str(e)
        assert "no stop away from home" in str(raises(DeviceError, adapter.describe, "enode.vehicles.car.charging", False))  # dry-run says so too
        assert "none of the user's locations" in str(raises(DeviceError, adapter.describe, target, value))
    assert len(starts(cloud)) == 1 and not [p for p in cloud.paths() if "smart-override" in p]  # nothing sent
    # A rule's else branch must not stop the car charging at a public charger either.
    sent = len(cloud.calls)
    for target in ("enode.vehicles.car.charging", "enode.vehicles.car.smartOverride"):
        e = raises(DeviceError, adapter.write, target, False)
        assert e.kind == "away" and "no stop away from home: Enode places the vehicle 'car' at none" in str(e)
    assert len(cloud.calls) == sent
    cloud.devices["vehicles"][1]["chargingLocationId"] = "cabin"
    adapter.poll()
    e = raises(DeviceError, adapter.write, "enode.vehicles.car.charging", True)
    assert "at location cabin, not at home (%s)" % HOME in str(e)
    cloud.devices["vehicles"][1]["chargingLocationId"] = HOME  # back home: the rule's retries go through
    adapter.poll()
    adapter.write("enode.vehicles.car.charging", False)
    assert json.loads(cloud.calls[-1][3]) == {"action": "STOP"}
    adapter.write("enode.vehicles.car.charging", True)
    assert len(starts(cloud)) == 2
    assert len([p for p in cloud.paths() if "/locations" in p]) == 1  # the home is looked up once


def test_charge_away_lets_the_named_vehicle_start_anywhere():
    adapter, cloud = make(charge_away=["car"])
    cloud.devices["vehicles"][1]["chargingLocationId"] = None
    assert adapter.poll()["enode.vehicles.car.atHome"] is False  # still said
    adapter.write("enode.vehicles.car.charging", True)
    assert len(starts(cloud)) == 1
    adapter.write("enode.vehicles.car.charging", False)
    assert json.loads(cloud.calls[-1][3]) == {"action": "STOP"}


def test_without_a_known_place_or_home_no_start():
    log = Log()
    adapter, cloud = make(log=log)
    raises(DeviceError, adapter.write, "enode.vehicles.car.charging", True)  # before the first poll: "not known yet"
    del cloud.devices["vehicles"][1]["chargingLocationId"]  # an object that says nothing of where it is
    assert "enode.vehicles.car.atHome" not in adapter.poll()
    assert "Enode has not said where the vehicle 'car' is" in str(raises(DeviceError, adapter.write, "enode.vehicles.car.charging", True))
    # Two locations and none named home: no atHome, the choice logged once, no start.
    adapter, cloud = make(log=log)
    cloud.devices["locations"].append({"id": "cabin", "userId": "u1", "name": "Cabin"})
    assert "enode.vehicles.car.atHome" not in adapter.poll()
    adapter.poll()
    warned = [line for line in log.lines if "several locations" in line[2]]
    assert len(warned) == 1 and 'name the home as "home_location"' in warned[0][2] and "'Home' (%s)" % HOME in warned[0][2]
    e = raises(DeviceError, adapter.write, "enode.vehicles.car.charging", True)
    assert "several locations in Enode" in str(e) and not starts(cloud)
    cloud.devices["locations"] = []
    adapter.poll()
    assert "the user has no location in Enode" in str(raises(DeviceError, adapter.write, "enode.vehicles.car.charging", True))
    assert "no stop away from home" in str(raises(DeviceError, adapter.write, "enode.vehicles.car.charging", False))


def test_a_configured_home_is_checked_once_and_a_user_is_not_needed():
    log = Log()
    adapter, cloud = make(log=log, user=None, home="cabin", aliases={"vehicles": {"car": CAR}})
    cloud.devices["locations"].append({"id": "cabin", "userId": "u1", "name": "Cabin"})
    assert adapter.poll()["enode.vehicles.car.atHome"] is False  # the car is at HOME, the config says home is the cabin
    adapter.poll()
    assert [p for p in cloud.paths() if "locations" in p] == ["/locations/cabin"]
    assert ("info", "enode", "home: Enode location 'Cabin' (cabin)") in log.lines
    adapter, cloud = make(log=log, home="nowhere")
    assert "enode.vehicles.car.atHome" not in adapter.poll()
    e = raises(DeviceError, adapter.write, "enode.vehicles.car.charging", True)
    assert "Enode has no location nowhere (the config's home_location)" in str(e)
    # No user, no home: the client's locations (Enode's GET /locations), the only one is home.
    adapter, cloud = make(user=None, aliases={"vehicles": {"car": CAR}})
    assert adapter.poll()["enode.vehicles.car.atHome"] is True and "/locations?pageSize=5" in cloud.paths()


def test_a_chargers_place_counts_too():
    adapter, cloud = make(aliases={"chargers": {"box": "C1"}})
    cloud.devices["chargers"] = [{"id": "C1", "lastSeen": "2026-11-21T11:59:00Z", "chargeState": {"isCharging": False}, "chargingLocationId": None}]
    assert adapter.poll()["enode.chargers.box.atHome"] is False
    assert "charger 'box' at none" in str(raises(DeviceError, adapter.write, "enode.chargers.box.charging", True))
    cloud.devices["chargers"][0]["chargingLocationId"] = HOME
    assert adapter.poll()["enode.chargers.box.atHome"] is True
    adapter.write("enode.chargers.box.charging", True)
    assert cloud.paths("POST")[-1] == "/chargers/C1/charging"


def test_the_config_takes_a_home_location_and_the_aliases_that_may_charge_away():
    from sunshift.devices import kinds
    from sunshift.site import config

    secrets = {"enode": {"client_id": "cid", "client_secret": "csecret"}}
    spec = {"type": "enode", "user": "u1", "vehicles": {"car": CAR}, "chargers": {"box": "C1"}, "home_location": HOME, "charge_away": ["box"]}
    adapter = kinds.build("enode", config.Site({"devices": {"enode": spec}}, secrets).devices["enode"], None, Cloud())
    assert adapter.home == HOME and adapter.charge_away == ["box"]
    bare = {"type": "enode", "vehicles": {"car": CAR}}
    adapter = kinds.build("enode", config.Site({"devices": {"enode": bare}}, secrets).devices["enode"], None, Cloud())
    assert adapter.home is None and adapter.charge_away == []  # the user's only location; nothing starts away
    for key, value, words in (("home_location", 5, "home_location"), ("charge_away", "car", "charge_away"), ("charge_away", ["van"], "'van'")):
        e = raises(config.ConfigError, config.Site, {"devices": {"enode": dict(spec, **{key: value})}}, secrets)
        assert words in str(e), str(e)


class ShortOfMemory(Cloud):
    def request(self, method, url, headers=None, body=None, timeout=5):
        raise MemoryError("memory allocation failed, allocating 16384 bytes")


def test_too_little_memory_for_tls_is_a_clear_device_error():
    adapter, _ = make(cloud=ShortOfMemory())
    e = raises(DeviceError, adapter.poll)
    assert e.kind == "memory" and "not enough memory for a TLS session" in str(e)


def test_the_config_names_devices_by_alias_and_keeps_credentials_in_the_secrets():
    from sunshift.devices import kinds
    from sunshift.lang import ruleset
    from sunshift.site import config
    from sunshift.site.runner import check_names

    secrets = {"enode": {"client_id": "cid", "client_secret": "csecret"}}
    spec = {"type": "enode", "environment": "sandbox", "user": "u1", "batteries": {"home": BATTERY}}
    site = config.Site({"devices": {"enode": spec}}, secrets)
    device = site.devices["enode"]
    assert device["aliases"] == {"batteries": {"home": BATTERY}} and device["poll"] == 120 and device["stale_after"] == 1800
    assert device["client_secret"] == "csecret" and site.max_ages() == {"enode": 1800}
    assert device["timeout"] == 10  # a cloud behind TLS: longer than a local device's 5 s
    assert config.Site({"devices": {"enode": dict(spec, timeout="20s")}}, secrets).devices["enode"]["timeout"] == 20
    adapter = kinds.build("enode", device, None, Cloud())
    assert adapter.api.base_url == "https://enode-api.sandbox.enode.io" and adapter.token.path == "/oauth2/token"
    mistakes = [
        (dict(spec, client_secret="x"), {}, "devices.enode.client_secret: secrets go in the secrets file"),
        (spec, {}, 'needs {"client_id": "...", "client_secret": "..."} (your Enode client) under \'enode\' in the secrets file'),
        (dict(spec, batteries={"my home": BATTERY}), secrets, "'my home' is not a name rules can use"),
        (dict(spec, batteries={}), secrets, "name at least one device"),
        (dict(spec, environment="staging"), secrets, "'production' or 'sandbox'"),
    ]
    for data, given, message in mistakes:
        assert message in str(raises(config.ConfigError, config.Site, {"devices": {"enode": data}}, given)), message
    rs = ruleset.compile_sources(
        [("t.rules", b"rule r\n  when enode.batteries.home.chargeState.batteryLevel > 90\n  then enode.batteries.garage.operationMode = IMPORT_FOCUS\n")]
    )
    errors, _ = check_names(rs, site.devices)
    assert errors == ["the rules set enode.batteries.garage.operationMode, but the config names no battery 'garage' under batteries (home)"]


def test_enodes_kilowatts_are_read_as_watts_like_every_power_in_a_rule():
    adapter, cloud = make()
    cloud.devices["batteries"][0]["chargeState"]["chargeRate"] = -2.35  # kW, discharging
    cloud.devices["vehicles"][1]["chargeState"]["chargeRate"] = 7.2
    signals = adapter.poll()
    assert signals["enode.batteries.home.chargeState.chargeRate"] == -2350
    assert signals["enode.vehicles.car.chargeState.chargeRate"] == 7200
    assert signals["enode.batteries.home.chargeState.batteryLevel"] == 80  # a percentage stays as it is


# --- smart charging, schedules, statistics, Enode's health ------------------------------


def test_the_smart_charging_switch_keeps_the_deadline_and_is_read_back():
    assert enode.command("vehicles", "smartCharging", "V", "off", "t") == ("PUT", "/vehicles/V/smart-charging-policy", {"isEnabled": False})
    assert "true (on) or false (off)" in str(raises(ValueRefused, enode.command, "vehicles", "smartCharging", "V", 2, "x.smartCharging"))
    log = Log()
    adapter, cloud = make(log=log)
    cloud.devices["vehicles"][1]["smartChargingPolicy"] = {"isEnabled": False, "deadline": "07:00", "minimumChargeLimit": 20}
    adapter.wanted = ["enode.vehicles.car.chargeState.batteryLevel"]
    assert adapter.poll()["enode.vehicles.car.smartChargingPolicy.deadline"] == "07:00"
    adapter.write("enode.vehicles.car.smartCharging", True)
    put = cloud.calls[-1]
    assert put[0] == "PUT" and put[1] == "/vehicles/%s/smart-charging-policy" % CAR
    assert json.loads(put[3]) == {"isEnabled": True, "deadline": "07:00", "minimumChargeLimit": 20}
    assert "smart charging is on (deadline 07:00)" in log.text() and not adapter.pending  # no action to follow
    assert adapter.report_of("enode.vehicles.car.smartCharging") == "enode.vehicles.car.smartChargingPolicy.isEnabled"


def test_a_422_names_what_controls_the_device_and_the_target_that_switches_it_off():
    adapter, cloud = make()
    cloud.devices["vehicles"][1]["smartChargingPolicy"] = {"isEnabled": True, "deadline": "07:00"}
    adapter.poll()
    cloud.queue = [(422, {}, b'{"title": "Enode Controlled Entity", "detail": "Vehicle has active Smart Charging Plan"}')]
    e = raises(DeviceError, adapter.write, "enode.vehicles.car.charging", True)
    assert e.kind == "conflict" and e.retry_after == 300
    assert "its smart charging policy is on: enode.vehicles.car.smartCharging = false switches" in str(e), str(e)
    assert "enode.vehicles.car.smartOverride = true" in str(e)


def test_smart_charging_schedules_and_statistics_are_asked_for_only_when_rules_read_them():
    adapter, cloud = make()
    adapter.wanted = ["enode.vehicles.car.chargeState.batteryLevel"]
    adapter.poll()
    assert not [p for p in cloud.paths() if "smart-charging" in p or "schedules" in p or "statistics" in p]
    adapter.wanted = ["enode.vehicles.car.smartChargingStatus.state", "enode.vehicles.car.schedule.isEnabled", "enode.vehicles.car.statistics.today.kwhSum"]
    cloud.devices["schedules"] = [{"id": "s1", "isEnabled": True, "defaultShouldCharge": False, "rules": [{"shouldCharge": True}], "targetId": CAR}]
    signals = adapter.poll()
    assert signals["enode.vehicles.car.smartChargingStatus.state"] == "PLAN:EXECUTING:STOPPED"
    assert signals["enode.vehicles.car.smartChargingStatus.plan.startAt"] == "2026-11-22T03:00:00Z"
    assert signals["enode.vehicles.car.smartChargingStatus.smartOverride.isActive"] is False
    assert "enode.vehicles.car.smartChargingStatus.vehicleId" not in signals and "enode.vehicles.car.smartChargingStatus.plan.id" not in signals
    assert signals["enode.vehicles.car.schedule.isEnabled"] is True and signals["enode.vehicles.car.schedule.count"] == 1
    assert signals["enode.vehicles.car.schedule.rules"] == 1 and signals["enode.vehicles.car.schedule.state"] == "ALIGNED"
    assert signals["enode.vehicles.car.statistics.today.kwhSum"] == 12500  # kWh read as Wh, like every energy in a rule
    assert signals["enode.vehicles.car.statistics.today.costSum"] == 30.1
    assert "enode.vehicles.car.statistics.today.estimatedSavings" not in signals  # null is no value
    stats = [p for p in cloud.paths() if "/statistics/" in p]
    assert stats == ["/users/u1/statistics/charging?startDate=2026-11-21T00:00:00.000Z&resolution=DAY&type=vehicle&id=" + CAR]
    assert "/schedules/s1/status" in cloud.paths()
    assert adapter.age_of("enode.vehicles.car.smartChargingStatus.state") == 0  # Enode's own state, though the car is unreachable


def test_statistics_are_asked_for_every_statistics_poll_and_when_the_day_changes():
    clock = Clock()
    adapter, cloud = make(clock=clock, statistics_poll=900)
    adapter.wanted = ["enode.vehicles.car.statistics.today.kwhSum"]
    now = [NOW_UNIX]
    adapter.unix_time = lambda: now[0]
    asked = lambda: len([p for p in cloud.paths() if "/statistics/" in p])  # noqa: E731
    assert adapter.poll()["enode.vehicles.car.statistics.today.kwhSum"] == 12500
    cloud.today[0]["kwhSum"] = 20
    clock.ms += 120000
    assert adapter.poll()["enode.vehicles.car.statistics.today.kwhSum"] == 12500 and asked() == 1  # as last read
    assert adapter.age_of("enode.vehicles.car.statistics.today.kwhSum") == 120
    clock.ms += 780000
    assert adapter.poll()["enode.vehicles.car.statistics.today.kwhSum"] == 20000 and asked() == 2
    now[0] = NOW_UNIX + 12 * 3600  # past midnight UTC: a new day, asked at once
    cloud.today = []  # nothing counted yet today
    clock.ms += 1000
    assert adapter.poll()["enode.vehicles.car.statistics.today.kwhSum"] == 0 and asked() == 3
    assert cloud.paths()[-1].startswith("/users/u1/statistics/charging?startDate=2026-11-22T00:00:00.000Z&")


def test_enode_down_is_one_error_that_stales_everything_and_ends_by_itself():
    clock = Clock()
    log = Log()
    adapter, cloud = make(clock=clock, log=log)
    adapter.poll()
    adapter.write("enode.batteries.home.operationMode", "IMPORT_FOCUS")
    cloud.down = True
    cloud.queue = [(503, {}, b'{"title": "Service Unavailable"}')]  # the list fails, then /health/ready says 503
    e = raises(DeviceError, adapter.poll)
    assert e.kind == "outage" and e.stale is True and e.endpoint == "GET /health/ready"
    assert str(e).startswith("enode GET /health/ready: Enode is down: GET /health/ready answered HTTP 503 after GET /users/u1/vehicles")
    calls = len(cloud.calls)
    e2 = raises(DeviceError, adapter.poll)  # still down: only /health/ready is asked
    assert e2.kind == "outage" and cloud.paths()[calls:] == ["/health/ready"]
    refused = raises(DeviceError, adapter.write, "enode.batteries.home.operationMode", "SELF_RELIANCE")
    assert refused.kind == "busy" and "Enode is down" in str(refused) and refused.retry_after == 60
    clock.ms += 600000
    adapter.work(clock.ms)
    assert cloud.paths()[-1] == "/health/ready"  # the pending action is not looked at meanwhile
    cloud.down = False
    assert adapter.poll()["enode.batteries.home.chargeState.batteryLevel"] == 80
    assert "Enode is up again (GET /health/ready answered HTTP 204)" in log.text()
    adapter.write("enode.batteries.home.operationMode", "SELF_RELIANCE")  # goes again


def test_a_5xx_while_enode_is_up_is_the_device_not_an_outage():
    log = Log()
    adapter, cloud = make(log=log, user=None)
    cloud.queue = [(200, {}, b'{"access_token": "t", "expires_in": 3599}'), (502, {}, b'{"title": "Bad Gateway"}')]
    cloud.valid.add("t")
    signals = adapter.poll()  # the car fails; Enode says it is ready; the battery is read
    assert "enode.vehicles.car.chargeState.batteryLevel" not in signals and signals["enode.batteries.home.chargeState.batteryLevel"] == 80
    assert "Enode itself is up (GET /health/ready), so this is the device or its vendor" in log.text()
    assert "has no vehicle" not in log.text()
    assert adapter.poll()["enode.vehicles.car.chargeState.batteryLevel"] == 55
    assert "warn enode.vehicles.car enode GET /vehicles/%s: " % CAR in log.text() and "info enode.vehicles.car answers again" in log.text()
    e = enode.problem_error("enode", "GET /x", 500, b"")
    cloud.queue = [(500, {}, b""), (404, {}, b"")]  # no /health/ready (an older Enode): the failure stands
    assert raises(DeviceError, make(cloud=cloud)[0].poll).kind == e.kind
