"""An Enode cloud on loopback: the OAuth token endpoint and the REST API on one server.

    python3 tools/simulators/enode.py [--port 8090] [--tls] [--action-delay 2]

It follows tools/simulators/enode-notes.md (the cited brief of Enode's API
reference; "notes §n" below points into it).  Where the notes call something an
assumption, the comment here says so; the README lists them all.

* `POST /oauth2/token`: client-credentials grant, credentials by HTTP Basic (or
  form fields); `{"access_token", "expires_in", "scope", "token_type"}`.
* Everything else wants `Authorization: Bearer <token>` and answers with an
  `Enode-Version` header (the one sent, else ``VERSION``).
* `GET /users/{userId}/{kind}` (paginated), `GET /{kind}/{id}` for vehicles,
  chargers, batteries, hvacs, inverters and meters; `POST /{kind}/{id}/refresh-hint`.
* Locations: `GET /locations`, `GET /users/{userId}/locations` (paginated) and
  `GET /locations/{id}`; vehicles and chargers say where they are in
  `chargingLocationId` (an assumption: the reference has no locations endpoints).
* Commands answer 200 with a PENDING Action that turns CONFIRMED (and changes
  the device) ``action_delay`` seconds later, worked out on the next request;
  `GET /{kind}/actions/{id}`, `POST /{kind}/actions/{id}/cancel`, and the
  vehicle smart override.
* Smart charging: `GET`/`PUT /vehicles/{id}/smart-charging-policy`,
  `GET /vehicles/{id}/smart-charging-status` and
  `GET /vehicles/{id}/smart-charging-plans/{id|latest}`; a vehicle whose policy is
  on (with a deadline, plugged in at a location) is in a plan and refuses manual
  charging with 422, as one under an enabled schedule does.
* Schedules: `GET`/`POST /users/{userId}/schedules`, `GET`/`PUT`/`DELETE
  /schedules/{id}` and `GET /schedules/{id}/status`.
* Statistics: `GET /users/{userId}/statistics/charging` and `.../production`,
  bucketed by UTC day.
* `GET /health/ready`: 204, or 503 during an ``outage`` (when every other API
  request answers 503 too).
* Errors are RFC 7807 problems (`application/problem+json`, type/title/detail).

Tests drive it with ``outage``, ``add_schedule``, ``set_statistics``, ``set_value``, ``expire_tokens``, ``controlled``,
``fail_actions``, ``rate_limit``, ``problem_next``, ``place`` (a vehicle or
charger moved to another location, or to none) and ``add_location``, and read ``requests``,
``tokens_issued``, ``refresh_hints``, ``actions`` and ``versions_seen``.
"""

import argparse
import base64
import binascii
import calendar
import json
import os
import secrets
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from simulators.base import Simulator, serve_forever

CLIENT_ID = "sunshift-test-client"
CLIENT_SECRET = "sunshift-test-secret"
USER_ID = "user-1"
OTHER_USER = "user-2"
VERSION = "2024-10-01"  # the newest version the reference names (notes §1)

VEHICLE_ID = "7c1f3a52-9d4e-4b8a-a6f1-0e2d5c8b1a01"
VEHICLE2_ID = "7c1f3a52-9d4e-4b8a-a6f1-0e2d5c8b1a02"
CHARGER_ID = "3e8b6d14-2a7c-4f05-b9d3-5a1e7c2f4b11"
BATTERY_ID = "9a4d2c7e-61b3-4e8f-8c05-d2b9f1a6e321"
HVAC_ID = "c6e1b8f3-4d29-47a0-b1e6-8f3a5d2c9b41"
INVERTER_ID = "e2b7a9c4-5f16-4d83-9e2a-1c7b4f8d6a51"
METER_ID = "f8d3c1a6-7e24-4b59-a3f7-6b2e9c5d1f61"
OTHER_VEHICLE_ID = "1b5e8c3f-0a7d-4c92-b4e8-3f6a2d9c7e71"
LOCATION_ID = "4eaeb363-296d-4ccc-a973-7805e6f400bd"  # USER_ID's home
OTHER_LOCATION_ID = "9d2e7b41-5c38-4f1a-8e06-b7a3c9d1e4f2"  # OTHER_USER's home
# Where place() puts a vehicle that is at none of its user's locations (a public charger).
AWAY = {"longitude": 10.7522, "latitude": 59.9139}

TOKEN_PATH = "/oauth2/token"
KINDS = ("vehicles", "chargers", "batteries", "hvacs", "inverters", "meters")
TARGET_TYPES = {"vehicles": "vehicle", "chargers": "charger", "batteries": "battery", "hvacs": "hvac"}
PAGE_SIZE = 50  # the default (notes §2); the reference gives no maximum
OPERATION_MODES = {"IMPORT_FOCUS": "importFocus", "EXPORT_FOCUS": "exportFocus", "TIME_OF_USE": "timeOfUse", "SELF_RELIANCE": "selfReliance"}
# Assumption (notes §4): the permanent-hold body is a union per mode; the
# reference shows only the COOL variant.  Each mode takes exactly these setpoints.
HOLD_SETPOINTS = {"HEAT": ("heatSetpoint",), "COOL": ("coolSetpoint",), "AUTO": ("heatSetpoint", "coolSetpoint"), "OFF": ()}
VOLTS_3_PHASE = 230 * 3  # chargeRate (kW) = amps * this / 1000 while charging

PROBLEM_TYPE = "application/problem+json"
# Assumption (notes §5): the reference shows URIs only for bad-request,
# forbidden and not-found; the other slugs follow that pattern.  Titles and
# details are the reference's problem texts (L139-181) and its status table
# (L120-129); 405/408/409/424/429 have no title there, so theirs is the HTTP reason.
PROBLEM_URI = "https://docs.enode.io/api/problems/"
PROBLEMS = {
    400: ("bad-request", "Bad request", "Some part of the request was malformed. See associated detail message for more information."),
    401: ("unauthorized", "Unauthorized", "The request contained an invalid or expired token."),
    403: ("forbidden", "Forbidden", "Authentication succeeded, but the user lacks access to the resource due to a missing control scope."),
    404: ("not-found", "Not Found", "The requested entity was not found on the user's account."),
    405: ("vendor-unavailable", "Method Not Allowed", "Vendor unavailability prevented request completion."),
    408: ("timeout", "Request Timeout", "Vendor timeout prevented request completion."),
    409: ("vendor-rejection", "Conflict", "Vendor rejection prevented request completion."),
    422: (
        "enode-controlled-entity",
        "Enode Controlled Entity",
        "This entity is currently managed by Smart Charging or Schedules and cannot accept manual commands.",
    ),
    424: ("failed-dependency", "Failed Dependency", "Failed vendor requests prevented request completion."),
    429: ("too-many-requests", "Too Many Requests", "Vendor rate limiting prevented request completion."),
    500: ("server-error", "Server Error", "A critical error has ocurred. An employee has been alerted and will work to remedy the situation"),
    503: (
        "service-unavailable",
        "Service Unavailable",
        "The service is currently unavailable. Most likely the service was slow to respond, might be overloaded or down for maintenance.",
    ),
}
VALIDATION = "Payload validation failed"  # the 400 title in the reference's example (L136)


def iso(unix_seconds):
    """An ISO 8601 UTC time as Enode writes it: "2026-11-21T12:00:00Z"."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix_seconds))


def _is_hour_minute(text):
    """True for a time of day "HH:MM"."""
    if not (isinstance(text, str) and len(text) == 5 and text[2] == ":" and text[:2].isdigit() and text[3:].isdigit()):
        return False
    return int(text[:2]) < 24 and int(text[3:]) < 60


def _unix(text):
    """Unix seconds of an ISO 8601 UTC time, or None."""
    if not isinstance(text, str):
        return None
    try:
        return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None


def _should_charge(schedule, at):
    """What a charge schedule wants at Unix time ``at``: the first rule that
    applies (its hourMinute, weekdays from 0 Monday, and timestamps), else the
    default (L4303-4330).  In UTC."""
    parts = time.gmtime(at)
    minute = parts.tm_hour * 60 + parts.tm_min
    for rule in schedule["rules"]:
        if rule.get("weekdays") is not None and parts.tm_wday not in rule["weekdays"]:
            continue
        if rule.get("fromTimestamp") and at < (_unix(rule["fromTimestamp"]) or 0):
            continue
        if rule.get("toTimestamp") and at >= (_unix(rule["toTimestamp"]) or 0):
            continue
        window = rule.get("hourMinute")
        if window:
            start = int(window["from"][:2]) * 60 + int(window["from"][3:])
            end = int(window["to"][:2]) * 60 + int(window["to"][3:])
            inside = start <= minute < end if start < end else (minute >= start or minute < end)  # `to` may be on the next day
            if not inside:
                continue
        return rule["shouldCharge"]
    return schedule["defaultShouldCharge"]


def capable(flag=True):
    return {"isCapable": flag, "interventionIds": []}


class Problem(Exception):
    """An RFC 7807 answer: raised by a route, written by ``handle``."""

    def __init__(self, status, detail=None, title=None):
        Exception.__init__(self, status)
        slug, default_title, default_detail = PROBLEMS[status]
        self.status = status
        self.document = {"type": PROBLEM_URI + slug, "title": title or default_title, "detail": detail or default_detail}

    def body(self):
        return json.dumps(self.document).encode()


def bad_body(detail):
    return Problem(400, detail, VALIDATION)


def fleet(now):
    """The devices of USER_ID (and one vehicle of OTHER_USER), shaped as the
    reference's Get examples (notes §3), all last seen at ``now``."""
    seen = iso(now)
    where = {"longitude": 10.7197486, "latitude": 59.9173985}

    def vehicle(vid, user, vin, brand, model, name, level, plugged, max_current_capable):
        return {
            "id": vid,
            "userId": user,
            "vendor": brand.upper(),
            "lastSeen": seen,
            "isReachable": True,
            "information": {"vin": vin, "brand": brand, "model": model, "year": 2022, "displayName": name},
            "chargeState": {
                "batteryLevel": level,
                "range": level * 4,
                "isPluggedIn": plugged,
                "isCharging": False,
                "isFullyCharged": False,
                "batteryCapacity": 75.0,
                "chargeLimit": 90,
                "chargeRate": None,
                "chargeTimeRemaining": None,
                "lastUpdated": seen,
                "maxCurrent": 16,
                "powerDeliveryState": "PLUGGED_IN:STOPPED" if plugged else "UNPLUGGED",
            },
            "smartChargingPolicy": {"isEnabled": False, "deadline": None, "minimumChargeLimit": 0},
            "odometer": {"distance": 42180, "lastUpdated": seen},
            "capabilities": {
                "information": capable(),
                "chargeState": capable(),
                "location": capable(),
                "odometer": capable(),
                "setMaxCurrent": capable(max_current_capable),  # vehicle max current is Tesla only (notes §4)
                "startCharging": capable(),
                "stopCharging": capable(),
                "smartCharging": capable(),
            },
            "scopes": [],
            "location": {"longitude": 10.7197486, "latitude": 59.9173985, "lastUpdated": seen},
            "chargingLocationId": LOCATION_ID if user == USER_ID else OTHER_LOCATION_ID,
        }

    charger = {
        "information": {"id": "ZAP-000123", "brand": "Zaptec", "model": "ZAPTEC PRO", "year": None},
        "chargingLocationId": LOCATION_ID,
        "id": CHARGER_ID,
        "userId": USER_ID,
        "vendor": "ZAPTEC",
        "lastSeen": seen,
        "isReachable": True,
        "chargeState": {
            "isPluggedIn": True,
            "isCharging": False,
            "chargeRate": None,
            "lastUpdated": seen,
            "maxCurrent": 16,
            "powerDeliveryState": "PLUGGED_IN:STOPPED",
        },
        "capabilities": {"information": capable(), "chargeState": capable(), "startCharging": capable(), "stopCharging": capable(), "setMaxCurrent": capable()},
        "scopes": [],
    }
    battery = {
        "id": BATTERY_ID,
        "userId": USER_ID,
        "vendor": "TESLA",
        "lastSeen": seen,
        "isReachable": True,
        # The status enum is lost in the reference (notes §3); IDLE is an assumption.
        "chargeState": {"status": "IDLE", "batteryCapacity": 13.5, "batteryLevel": 80, "chargeRate": 0.0, "dischargeLimit": 20, "lastUpdated": seen},
        "config": {"operationMode": "SELF_RELIANCE", "lastUpdated": seen},
        "information": {"id": "TG-1234567", "brand": "Tesla", "model": "Powerwall", "siteName": "Powerwall Home", "installationDate": "2024-05-02T09:00:00Z"},
        "capabilities": {"exportFocus": capable(), "importFocus": capable(), "timeOfUse": capable(), "selfReliance": capable()},
        "scopes": [],
        "locationId": LOCATION_ID,
        "location": dict(where),
    }
    hvac = {
        # Deprecated top-level copies of thermostatState/temperatureState (notes §3), kept in step.
        "isActive": True,
        "currentTemperature": 20.5,
        "mode": "HEAT",
        "heatSetpoint": 21,
        "coolSetpoint": 25,
        "holdType": "SCHEDULED",
        "chargingLocationId": LOCATION_ID,
        "id": HVAC_ID,
        "userId": USER_ID,
        "vendor": "DAIKIN",
        "lastSeen": seen,
        "isReachable": True,
        "consumptionRate": 1.2,
        "information": {"brand": "Daikin", "model": "Altherma 3", "displayName": "Heat pump", "groupName": "House", "category": "HEAT_PUMP"},
        "capabilities": {
            "capableModes": ["HEAT", "COOL", "AUTO", "OFF"],
            "capableHoldTypes": ["PERMANENT", "SCHEDULED"],
            "coolSetpointRange": {"min": 16, "max": 32},
            "heatSetpointRange": {"min": 7, "max": 30},
            "setpointDifferenceRange": {"min": 2, "max": 10},
            "setFollowSchedule": capable(),
            "setPermanentHold": capable(),
        },
        "thermostatState": {"mode": "HEAT", "heatSetpoint": 21, "coolSetpoint": 25, "holdType": "SCHEDULED", "lastUpdated": seen},
        "temperatureState": {"currentTemperature": 20.5, "isActive": True, "lastUpdated": seen},
        "scopes": [],
    }
    inverter = {
        "id": INVERTER_ID,
        "userId": USER_ID,
        "vendor": "ENPHASE",
        "lastSeen": seen,
        "isReachable": True,
        "productionState": {"productionRate": 3.2, "isProducing": True, "totalLifetimeProduction": 18254.3, "lastUpdated": seen},
        "timezone": "Europe/Oslo",
        "capabilities": {"productionState": capable(), "productionStatistics": capable()},
        "scopes": [],
        "information": {"id": "122233344455", "brand": "Enphase", "model": "IQ Gateway", "siteName": "Roof", "installationDate": "2023-04-14T10:00:00Z"},
        "chargingLocationId": LOCATION_ID,
        "location": dict(where),
    }
    meter = {
        "id": METER_ID,
        "userId": USER_ID,
        "vendor": "TESLA",
        "lastSeen": seen,
        "isReachable": True,
        "information": {"brand": "Tesla", "model": "Tesla Powerwall built-in meter", "siteName": "Powerwall Home", "installationDate": "2024-05-02T09:00:00Z"},
        "energyState": {"power": -1.5, "lastUpdated": seen},  # positive imports from the grid, negative exports (notes §3)
        "location": {"id": LOCATION_ID, "longitude": 10.7197486, "latitude": 59.9173985, "lastUpdated": seen},
        "capabilities": {"measuresConsumption": capable(), "measuresProduction": capable()},
        "scopes": [],
    }
    return [
        ("vehicles", vehicle(VEHICLE_ID, USER_ID, "5YJ3E1EA7KF317000", "Tesla", "Model 3", "Family car", 55, True, True)),
        ("vehicles", vehicle(VEHICLE2_ID, USER_ID, "WVWZZZE1ZMP000001", "Volkswagen", "ID.3", "Runabout", 70, False, False)),
        ("vehicles", vehicle(OTHER_VEHICLE_ID, OTHER_USER, "5YJ3E1EA7KF317999", "Tesla", "Model Y", "Neighbour's car", 40, True, True)),
        ("chargers", charger),
        ("batteries", battery),
        ("hvacs", hvac),
        ("inverters", inverter),
        ("meters", meter),
    ]


def places():
    """The users' locations (an assumption: the reference has no Location object;
    these are the fields of Enode's Locations API from 2023-08-01: id, userId,
    name, latitude, longitude, timezoneName)."""
    return [
        {"id": LOCATION_ID, "userId": USER_ID, "name": "Home", "latitude": 59.9173985, "longitude": 10.7197486, "timezoneName": "Europe/Oslo"},
        {"id": OTHER_LOCATION_ID, "userId": OTHER_USER, "name": "Home", "latitude": 63.4305, "longitude": 10.3951, "timezoneName": "Europe/Oslo"},
    ]


def cursor(device_id):
    """An opaque base64 cursor (notes §2) naming the device at a page's edge."""
    return base64.b64encode(device_id.encode()).decode()


class EnodeSim(Simulator):
    """Enode's token endpoint and API over a fleet of devices."""

    name = "enode"

    def __init__(self, port=0, tls=False, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_lifetime=3599, action_delay=1.0):
        Simulator.__init__(self, port, tls)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.action_delay = action_delay
        self.state_lock = threading.RLock()
        self.devices = {kind: [] for kind in KINDS}  # kind -> [device], in listing order
        for kind, device in fleet(time.time()):
            self.devices[kind].append(device)
        self.locations = places()  # in listing order
        # The schedule an HVAC returns to on follow-schedule: how it started.
        self.schedules = {d["id"]: dict(d["thermostatState"]) for d in self.devices["hvacs"]}
        self.tokens = {}  # token -> monotonic expiry
        self.tokens_issued = 0
        self.refresh_hints = []
        self.versions_seen = set()
        self.overrides = {}  # vehicle id -> SmartOverride
        self._actions = {}  # id -> Action
        self._pending = []  # [{"action", "kind", "family", "due", "at", "effect"}] for PENDING actions
        self._controlled = set()  # (kind, id)
        self._failing = {}  # device id -> (failureReason.type, detail)
        self._rate_limited = 0
        self._retry_after = 1
        self._problems = []  # [[status, path prefix, count left]]
        self.charge_schedules = []  # Enode's charge schedules, in listing order
        self.plans = {}  # vehicle id -> [smart charging plans], newest last
        self.statistics = {}  # (type, device id) -> today's figures set by a test
        self.down = False  # Enode's outage: every API request 503, /health/ready too

    # --- what a test drives ---------------------------------------------------------

    def device(self, kind, device_id):
        """The live dictionary of one device (actions that are due applied first)."""
        with self.state_lock:
            self._settle()
            return self._find(kind, device_id)

    def set_value(self, kind, device_id, dotted_path, value):
        """Set a field, e.g. set_value("meters", METER_ID, "energyState.power", 2.0)."""
        with self.state_lock:
            node = self._find(kind, device_id)
            keys = dotted_path.split(".")
            for key in keys[:-1]:
                node = node[key]
            node[keys[-1]] = value

    def set_seen(self, kind, device_id, unix_seconds):
        """Set lastSeen, written as Enode writes it ("…Z")."""
        self.set_value(kind, device_id, "lastSeen", iso(unix_seconds))

    def set_reachable(self, kind, device_id, flag):
        """Set isReachable."""
        self.set_value(kind, device_id, "isReachable", flag)

    def place(self, kind, device_id, location_id):
        """Move a vehicle or charger to one of the users' locations, or with None to
        none of them (a public charger, the road): its ``chargingLocationId``, and
        a vehicle's GPS position with it."""
        with self.state_lock:
            device = self._find(kind, device_id)
            device["chargingLocationId"] = location_id
            if "location" in device:
                where = next((p for p in self.locations if p["id"] == location_id), None)
                spot = {"longitude": where["longitude"], "latitude": where["latitude"]} if where else dict(AWAY)
                device["location"].update(spot, lastUpdated=iso(time.time()))

    def add_location(self, name, user_id=USER_ID, latitude=59.95, longitude=10.76):
        """Give a user another location (a cabin, an office); its ID."""
        with self.state_lock:
            location = {"id": str(uuid.uuid4()), "userId": user_id, "name": name, "latitude": latitude, "longitude": longitude, "timezoneName": "Europe/Oslo"}
            self.locations.append(location)
            return location["id"]

    def expire_tokens(self):
        """Invalidate every token issued so far: the next API call gets 401."""
        with self.state_lock:
            self.tokens.clear()

    def controlled(self, kind, device_id, flag=True):
        """Charging and HVAC hold commands for the device answer 422 "Enode Controlled Entity"."""
        with self.state_lock:
            if flag:
                self._controlled.add((kind, device_id))
            else:
                self._controlled.discard((kind, device_id))

    def fail_actions(self, device_id, reason_type="NO_RESPONSE", detail="The chargeable device remained unreachable."):
        """Actions for the device end FAILED (with failureReason where the kind has
        one) instead of CONFIRMED; ``reason_type=None`` lets them succeed again."""
        with self.state_lock:
            if reason_type is None:
                self._failing.pop(device_id, None)
            else:
                self._failing[device_id] = (reason_type, detail)

    def rate_limit(self, count, retry_after=1):
        """The next ``count`` API requests answer 429 with Retry-After (seconds)."""
        with self.state_lock:
            self._rate_limited = count
            self._retry_after = retry_after

    def problem_next(self, status, path_prefix="", count=1):
        """The next ``count`` requests under ``path_prefix`` answer ``status`` as a
        problem.  The token endpoint is left alone unless the prefix names it."""
        if status not in PROBLEMS:
            raise ValueError("no problem for status %r; one of %s" % (status, ", ".join(str(s) for s in sorted(PROBLEMS))))
        with self.state_lock:
            self._problems.append([status, path_prefix, count])

    def outage(self, flag=True):
        """Enode is down: /health/ready and every other API request answer 503
        (the token endpoint, a service of its own, still answers)."""
        with self.state_lock:
            self.down = flag

    def add_schedule(self, kind, device_id, enabled=True, default_should_charge=False, rules=()):
        """A charge schedule for a vehicle or charger of USER_ID, as POST
        /users/{userId}/schedules makes it; its ID."""
        with self.state_lock:
            body = {"isEnabled": enabled, "defaultShouldCharge": default_should_charge, "rules": list(rules)}
            body.update(targetId=device_id, targetType=TARGET_TYPES[kind])
            return self._new_schedule(USER_ID, body)["id"]

    def set_statistics(self, type_, device_id, **figures):
        """Today's figures of one device's statistics (``type_`` "vehicle",
        "charger" or "inverter"): kwhSum=12.5, costSum=30.1, ..."""
        with self.state_lock:
            self.statistics.setdefault((type_, device_id), {}).update(figures)

    def set_action_delay(self, seconds):
        """How long new actions stay PENDING."""
        with self.state_lock:
            self.action_delay = seconds

    @property
    def actions(self):
        """Every action so far, id -> Action (those that are due resolved first)."""
        with self.state_lock:
            self._settle()
            return self._actions

    # --- serving --------------------------------------------------------------------

    def unauthorized(self, request):
        problem = Problem(401)
        return 401, PROBLEM_TYPE, problem.body(), {"Enode-Version": request.headers.get("enode-version") or VERSION}

    def handle(self, request):
        with self.state_lock:
            if request.path == TOKEN_PATH:
                return self._token(request)
            return self._api(request)

    def _token(self, request):
        """The OAuth 2.0 client-credentials grant (notes §1)."""
        status = self._take_problem(request.path, token=True)
        if status:
            return status, PROBLEM_TYPE, Problem(status).body()
        no_store = {"Cache-Control": "no-store"}  # RFC 6749 §5.1
        if request.method != "POST":
            return 405, "application/json", json.dumps({"error": "invalid_request", "error_description": "use POST"}).encode(), no_store
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth[:6].lower() == "basic ":
            try:
                pair = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeError):
                pair = ""
            # RFC 6749 §2.3.1: both halves are form-encoded before they are joined.
            client_id, _, secret = pair.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        if client_id != self.client_id or secret != self.client_secret:
            # Assumption (notes §1): the reference says nothing of the token
            # endpoint's errors; this is RFC 6749 §5.2, not an RFC 7807 problem.
            error = {"error": "invalid_client", "error_description": "Client authentication failed (unknown client or wrong secret)."}
            headers = {"WWW-Authenticate": 'Basic realm="enode"'}
            headers.update(no_store)
            return 401, "application/json", json.dumps(error).encode(), headers
        grant = form.get("grant_type")
        if grant != "client_credentials":
            error = {"error": "unsupported_grant_type" if grant else "invalid_request", "error_description": "grant_type must be client_credentials"}
            return 400, "application/json", json.dumps(error).encode(), no_store
        token = secrets.token_urlsafe(32)
        self.tokens[token] = time.monotonic() + self.token_lifetime
        self.tokens_issued += 1
        answer = {"access_token": token, "expires_in": self.token_lifetime, "scope": "", "token_type": "bearer"}
        return 200, "application/json", json.dumps(answer).encode(), no_store

    def _api(self, request):
        sent = request.headers.get("enode-version")
        if sent:
            self.versions_seen.add(sent)
        headers = {"Enode-Version": sent or VERSION}  # the reference: responses carry it (notes §1)
        if self.down:
            if request.path == "/health/ready":
                return 503, None, b"", headers  # the reference shows no body for it (L5240)
            problem = Problem(503)
            return 503, PROBLEM_TYPE, problem.body(), headers
        try:
            token = request.bearer()
            if token is None or self.tokens.get(token, 0) <= time.monotonic():
                self.tokens.pop(token, None)
                raise Problem(401)
            if self._rate_limited > 0:
                # Assumption (notes §5): Enode documents neither quotas nor Retry-After.
                self._rate_limited -= 1
                headers["Retry-After"] = self._retry_after
                raise Problem(429)
            status = self._take_problem(request.path)
            if status:
                raise Problem(status)
            self._settle()
            status, answer = self._route(request)
        except Problem as problem:
            return problem.status, PROBLEM_TYPE, problem.body(), headers
        if status == 204:
            return 204, None, b"", headers
        return status, "application/json", json.dumps(answer).encode(), headers

    def _take_problem(self, path, token=False):
        for entry in self._problems:
            status, prefix, _ = entry
            if path.startswith(prefix) and (not token or prefix.startswith("/oauth2")):
                entry[2] -= 1
                if entry[2] <= 0:
                    self._problems.remove(entry)
                return status
        return None

    def _route(self, request):
        """(status, answer) for an authorised API request; raises Problem."""
        method = request.method
        parts = request.path.strip("/").split("/")
        kind = parts[0]
        if method == "GET" and len(parts) == 3 and kind == "users" and parts[2] in KINDS:
            return 200, self._list(parts[1], parts[2], parse_qs(request.query))
        if kind == "locations" or (kind == "users" and parts[-1:] == ["locations"]):
            return 200, self._locations(method, parts, parse_qs(request.query))
        if method == "GET" and parts == ["health", "ready"]:
            return 204, None
        if kind == "schedules" or (kind == "users" and parts[2:3] == ["schedules"]):
            return self._schedules(request, parts)
        if method == "GET" and kind == "users" and len(parts) == 4 and parts[2] == "statistics" and parts[3] in ("charging", "production"):
            return 200, self._statistics(parts[1], parts[3], parse_qs(request.query))
        if kind in TARGET_TYPES and len(parts) >= 3 and parts[1] == "actions":
            action = self._actions.get(parts[2])
            if action is None or action["targetType"] != TARGET_TYPES[kind]:
                raise Problem(404, "Action not found.")
            if method == "GET" and len(parts) == 3:
                return 200, action
            if method == "POST" and len(parts) == 4 and parts[3] == "cancel":
                return self._cancel_request(action)
            raise Problem(404, "No route for %s %s." % (method, request.path))
        if kind not in KINDS or len(parts) < 2:
            raise Problem(404, "No route for %s %s." % (method, request.path))
        device = self._find(kind, parts[1], Problem(404))
        command = "/".join(parts[2:])
        route = (method, kind, command)
        if method == "GET" and command == "":
            return 200, device
        if method == "POST" and command == "refresh-hint":
            self.refresh_hints.append((kind, device["id"]))
            return 204, None
        if route in (("POST", "vehicles", "charging"), ("POST", "chargers", "charging")):
            return 200, self._charging(kind, device, request)
        if route in (("POST", "vehicles", "max-current"), ("POST", "chargers", "max-current")):
            return 200, self._max_current(kind, device, request)
        if route == ("POST", "batteries", "operation-mode"):
            return 200, self._operation_mode(device, request)
        if route == ("POST", "hvacs", "permanent-hold"):
            return 200, self._permanent_hold(device, request)
        if route == ("POST", "hvacs", "follow-schedule"):
            return 200, self._follow_schedule(device)
        if kind == "vehicles" and command == "smart-override" and method in ("POST", "DELETE"):
            return 200, self._smart_override(device, method)
        if kind == "vehicles" and command == "smart-charging-policy" and method in ("GET", "PUT"):
            return 200, self._policy(device, request if method == "PUT" else None)
        if route == ("GET", "vehicles", "smart-charging-status"):
            return 200, self._smart_status(device)
        if method == "GET" and kind == "vehicles" and len(parts) == 4 and parts[2] == "smart-charging-plans":
            return 200, self._plan(device, parts[3])
        raise Problem(404, "No route for %s %s." % (method, request.path))

    def _find(self, kind, device_id, missing=None):
        for device in self.devices.get(kind, ()):
            if device["id"] == device_id:
                return device
        if missing is not None:
            raise missing
        raise KeyError("no %s %s" % (kind, device_id))

    # --- lists ----------------------------------------------------------------------

    def _list(self, user_id, kind, query):
        """One page of a user's devices of a kind (notes §2).  Assumption: every
        kind has this user-scoped, paginated list (the reference shows it only for
        batteries and meters), and an unknown user has an empty one."""
        return self._page([d for d in self.devices[kind] if d["userId"] == user_id], query)

    def _locations(self, method, parts, query):
        """Enode's Locations API from 2023-08-01 (an assumption: the reference has
        none): every location of the client, a user's (both paginated as devices
        are), or one by ID."""
        if method == "GET" and parts == ["locations"]:
            return self._page(self.locations, query)
        if method == "GET" and len(parts) == 3 and parts[0] == "users":
            return self._page([p for p in self.locations if p["userId"] == parts[1]], query)
        if method == "GET" and len(parts) == 2 and parts[0] == "locations":
            for location in self.locations:
                if location["id"] == parts[1]:
                    return location
            raise Problem(404, "Location not found.")
        raise Problem(404, "No route for %s /%s." % (method, "/".join(parts)))

    def _page(self, mine, query):
        """One page of ``mine`` (objects with an "id") by the query's pageSize, after and before."""
        ids = [d["id"] for d in mine]
        raw_size = query.get("pageSize", [str(PAGE_SIZE)])[0]
        if not raw_size.isdigit() or int(raw_size) < 1:
            raise bad_body('"pageSize" must be a positive integer (got %r)' % raw_size)
        size = int(raw_size)
        if "after" in query:
            start = self._cursor_index(query, "after", ids) + 1
            end = start + size
        elif "before" in query:
            end = self._cursor_index(query, "before", ids)
            start = max(0, end - size)
        else:
            start, end = 0, size
        page = mine[start:end]
        after = cursor(page[-1]["id"]) if page and start + len(page) < len(mine) else None
        before = cursor(page[0]["id"]) if page and start > 0 else None
        return {"data": page, "pagination": {"after": after, "before": before}}

    @staticmethod
    def _cursor_index(query, name, ids):
        raw = query[name][0]
        try:
            return ids.index(base64.b64decode(raw, validate=True).decode())
        except (binascii.Error, UnicodeError, ValueError):
            raise bad_body('"%s" is not a cursor this list gave out: %r' % (name, raw))

    # --- commands -------------------------------------------------------------------

    @staticmethod
    def _body(request, allowed):
        """The command body as a dict with only ``allowed`` keys, or a 400."""
        if not request.body:
            raise bad_body("a JSON body is required")
        body = request.json()
        if not isinstance(body, dict):
            raise bad_body('"value" must be of type object')
        for key in body:
            if key not in allowed:
                raise bad_body('"%s" is not allowed' % key)
        return body

    @staticmethod
    def _number(body, name):
        if name not in body:
            raise bad_body('"%s" is required' % name)
        value = body[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad_body('"%s" must be a number' % name)
        return value

    @staticmethod
    def _choice(body, name, choices):
        if name not in body:
            raise bad_body('"%s" is required' % name)
        if body[name] not in choices:
            raise bad_body('"%s" must be one of [%s]' % (name, ", ".join(choices)))
        return body[name]

    @staticmethod
    def _require(device, capability):
        # The reference's 400 precondition: the device cannot perform the action (L8050).
        if not device["capabilities"][capability]["isCapable"]:
            raise Problem(400, "The target is not capable of this action (capabilities.%s.isCapable is false)." % capability)

    def _charging(self, kind, device, request, override=False):
        body = self._body(request, ("action",)) if request is not None else {"action": "START"}
        what = self._choice(body, "action", ("START", "STOP"))
        self._require(device, "startCharging" if what == "START" else "stopCharging")
        if self._is_controlled(kind, device) and not override:
            raise Problem(422)
        if kind == "vehicles":
            # Vehicles reuse a PENDING action of the same kind and cancel one of the
            # other kind (L7938); chargers cancel any earlier one (L1906).
            for pending in self._pending_for(device["id"], "charging"):
                if pending["action"]["kind"] == what:
                    return pending["action"]

        def effect(dev, at):
            state = dev["chargeState"]
            if what == "START" and not state["isPluggedIn"]:
                # Assumption: an unplugged target is the reference's "precondition not
                # met during the timeout window": CANCELLED, FAILED_PRECONDITION (L1964-1978).
                return "CANCELLED", {"type": "FAILED_PRECONDITION", "detail": "The chargeable device is not plugged in."}
            state["isCharging"] = what == "START"
            if what == "START":
                state["powerDeliveryState"] = "PLUGGED_IN:CHARGING"
            else:
                state["powerDeliveryState"] = "PLUGGED_IN:STOPPED" if state["isPluggedIn"] else "UNPLUGGED"
                running = self.overrides.get(dev["id"])
                if running and running["endedAt"] is None:
                    running["endedAt"] = iso(at)  # an override lasts until charging stops (L8821)
            self._charge_rate(dev)
            state["lastUpdated"] = iso(at)
            return "CONFIRMED", None

        return self._new_action(kind, device, "charging", {"kind": what, "failureReason": None}, effect)

    def _max_current(self, kind, device, request):
        body = self._body(request, ("maxCurrent",))
        amps = self._number(body, "maxCurrent")
        if amps <= 0:
            raise bad_body('"maxCurrent" must be greater than 0')
        self._require(device, "setMaxCurrent")

        def effect(dev, at):
            dev["chargeState"]["maxCurrent"] = amps
            self._charge_rate(dev)
            dev["chargeState"]["lastUpdated"] = iso(at)
            return "CONFIRMED", None

        return self._new_action(kind, device, "max-current", {"targetState": {"maxCurrent": amps}, "failureReason": None}, effect)

    @staticmethod
    def _charge_rate(dev):
        state = dev["chargeState"]
        state["chargeRate"] = round(state["maxCurrent"] * VOLTS_3_PHASE / 1000.0, 2) if state["isCharging"] else None
        if "chargeTimeRemaining" in state:
            to_go = (state["chargeLimit"] - state["batteryLevel"]) / 100.0 * state["batteryCapacity"]
            state["chargeTimeRemaining"] = int(max(0, to_go) / state["chargeRate"] * 60) if state["chargeRate"] else None

    def _operation_mode(self, device, request):
        body = self._body(request, ("operationMode",))
        mode = self._choice(body, "operationMode", tuple(OPERATION_MODES))
        self._require(device, OPERATION_MODES[mode])

        def effect(dev, at):
            dev["config"]["operationMode"] = mode
            dev["config"]["lastUpdated"] = iso(at)
            return "CONFIRMED", None

        return self._new_action("batteries", device, "operation-mode", {"targetState": {"operationMode": mode}}, effect)

    def _permanent_hold(self, device, request):
        caps = device["capabilities"]
        mode = self._choice(self._body(request, ("mode", "heatSetpoint", "coolSetpoint")), "mode", tuple(HOLD_SETPOINTS))
        body = self._body(request, ("mode",) + HOLD_SETPOINTS[mode])
        self._require(device, "setPermanentHold")
        if caps["capableModes"] is not None and mode not in caps["capableModes"]:
            raise Problem(400, "The HVAC unit cannot run in mode %s (capabilities.capableModes)." % mode)
        target = {"mode": mode}
        for name in HOLD_SETPOINTS[mode]:
            value = self._number(body, name)
            limits = caps[name + "Range"]
            if not limits["min"] <= value <= limits["max"]:
                raise Problem(400, "Invalid setpoints: %s %s is outside %s-%s." % (name, value, limits["min"], limits["max"]))
            target[name] = value
        if mode == "AUTO":
            limits = caps["setpointDifferenceRange"]
            if not limits["min"] <= target["coolSetpoint"] - target["heatSetpoint"] <= limits["max"]:
                raise Problem(400, "Invalid setpoints: coolSetpoint - heatSetpoint must be within %s-%s." % (limits["min"], limits["max"]))
        if ("hvacs", device["id"]) in self._controlled:
            raise Problem(422)
        target["holdType"] = "PERMANENT"

        def effect(dev, at):
            self._thermostat(dev, target, at)
            return "CONFIRMED", None

        return self._new_action("hvacs", device, "hvac", {"target": target}, effect)

    def _follow_schedule(self, device):
        self._require(device, "setFollowSchedule")
        if ("hvacs", device["id"]) in self._controlled:
            raise Problem(422)

        def effect(dev, at):
            # The unit goes back to its own schedule: here, the state it started in.
            self._thermostat(dev, self.schedules[dev["id"]], at)
            dev["thermostatState"]["holdType"] = dev["holdType"] = "SCHEDULED"
            return "CONFIRMED", None

        return self._new_action("hvacs", device, "hvac", {"target": {"holdType": "SCHEDULED"}}, effect)

    @staticmethod
    def _thermostat(dev, values, at):
        state = dev["thermostatState"]
        for key in ("mode", "heatSetpoint", "coolSetpoint", "holdType"):
            if key in values:
                state[key] = dev[key] = values[key]
        state["lastUpdated"] = iso(at)

    def _smart_override(self, device, method):
        """Not an Action: a record whose vendorActionId is a START action (notes §4)."""
        current = self.overrides.get(device["id"])
        active = current is not None and current["endedAt"] is None
        if method == "DELETE":
            if not active:
                raise Problem(404, "No Smart Override Exists")
            current["endedAt"] = iso(time.time())  # ending it does not stop charging (L8883)
            return current
        if active:
            return current  # Assumption: a second create answers the override in force.
        action = self._charging("vehicles", device, None, override=True)
        self.overrides[device["id"]] = {
            "createdAt": iso(time.time()),
            "endedAt": None,
            "targetType": "vehicle",
            "targetId": device["id"],
            "vendorActionId": action["id"],
            "userId": device["userId"],
            "vendor": device["vendor"],
        }
        return self.overrides[device["id"]]

    # --- smart charging -------------------------------------------------------------

    def _is_controlled(self, kind, device):
        """True if manual charging is refused with 422 (L7940, L1908): told so by a
        test, a vehicle in a smart charging plan, or an enabled schedule for it."""
        if (kind, device["id"]) in self._controlled:
            return True
        if kind == "vehicles" and self._smart_state(device).startswith("PLAN:EXECUTING"):
            return True
        return any(s["isEnabled"] and s["targetId"] == device["id"] for s in self.charge_schedules)

    def _policy(self, vehicle, request):
        """GET, or PUT (L8762): the fields are all optional; isEnabled and
        minimumChargeLimit take their documented defaults (false, 0) when left
        out, and a deadline left out stays (the reference gives it no default)."""
        policy = vehicle["smartChargingPolicy"]
        if request is None:
            return policy
        body = self._body(request, ("isEnabled", "deadline", "minimumChargeLimit"))
        enabled = body.get("isEnabled", False)
        if not isinstance(enabled, bool):
            raise bad_body('"isEnabled" must be a boolean')
        deadline = body.get("deadline", policy["deadline"])
        if deadline is not None and not _is_hour_minute(deadline):
            raise bad_body('"deadline" must be a time of day "HH:MM"')
        minimum = body.get("minimumChargeLimit", 0)
        if isinstance(minimum, bool) or not isinstance(minimum, (int, float)) or not 0 <= minimum <= vehicle["chargeState"]["chargeLimit"]:
            raise bad_body('"minimumChargeLimit" must be a percentage from 0 to the charge limit (%s)' % vehicle["chargeState"]["chargeLimit"])
        policy.update(isEnabled=enabled, deadline=deadline, minimumChargeLimit=minimum)
        if not enabled:
            for plan in self.plans.get(vehicle["id"], ()):
                if plan["endedAt"] is None:
                    plan.update(endedAt=iso(time.time()), finalState="PLAN:ENDED:DISABLED")
        return policy

    def _smart_state(self, vehicle):
        """The vehicle's smart charging state.  Assumption: the reference lost the
        enum (L9009); these are the states of Enode's public docs that the
        simulator can be in."""
        policy, state = vehicle["smartChargingPolicy"], vehicle["chargeState"]
        if not policy["isEnabled"]:
            return "DISABLED"
        if not (state["isPluggedIn"] and vehicle.get("chargingLocationId") and policy["deadline"]):
            return "CONSIDERING"
        override = self.overrides.get(vehicle["id"])
        if override is not None and override["endedAt"] is None:
            return "PLAN:EXECUTING:OVERRIDDEN"
        return "PLAN:EXECUTING:STOPPED"

    def _smart_status(self, vehicle):
        """GET /vehicles/{id}/smart-charging-status (L8965)."""
        state = self._smart_state(vehicle)
        charge = vehicle["chargeState"]
        plan = self._current_plan(vehicle) if state.startswith("PLAN:") else None
        override = self.overrides.get(vehicle["id"])
        return {
            "updatedAt": iso(time.time()),
            "vehicleId": vehicle["id"],
            "userId": vehicle["userId"],
            "vendor": vehicle["vendor"],
            "state": state,
            "stateChangedAt": vehicle["lastSeen"],
            "consideration": {
                "isPluggedIn": charge["isPluggedIn"],
                "isCharging": charge["isCharging"],
                "atChargingLocation": vehicle.get("chargingLocationId") is not None,
                "hasTimeEstimate": True,
            },
            "plan": plan,
            "smartOverride": override,
        }

    def _current_plan(self, vehicle):
        """The plan in force, made when the vehicle first needs one: stop now,
        start so as to be done by the deadline (UTC here; Enode uses the
        location's time zone, L8745)."""
        plans = self.plans.setdefault(vehicle["id"], [])
        if plans and plans[-1]["endedAt"] is None:
            return plans[-1]
        now = time.time()
        hour, minute = (int(x) for x in vehicle["smartChargingPolicy"]["deadline"].split(":"))
        finish = now - now % 86400 + hour * 3600 + minute * 60
        if finish <= now:
            finish += 86400
        plan = {
            "id": str(uuid.uuid4()),
            "vehicleId": vehicle["id"],
            "userId": vehicle["userId"],
            "locationId": vehicle.get("chargingLocationId"),
            "vendor": vehicle["vendor"],
            "currency": "NOK",
            "nonSmartCost": 17.2,
            "smartCost": 12.8,
            "stopAt": iso(now),
            "startAt": iso(finish - 3 * 3600),
            "estimatedFinishAt": iso(finish),
            "stopConfirmedAt": None,
            "startConfirmedAt": None,
            "endedAt": None,
            "finalState": None,
            "failureCondition": None,
            "externalStart": None,
            "chargingLocationId": vehicle.get("chargingLocationId"),
        }
        plans.append(plan)
        return plan

    def _plan(self, vehicle, plan_id):
        """GET /vehicles/{id}/smart-charging-plans/{id}, `latest` the newest (L8568)."""
        plans = self.plans.get(vehicle["id"], [])
        if plan_id == "latest" and plans:
            return plans[-1]
        for plan in plans:
            if plan["id"] == plan_id:
                return plan
        raise Problem(404, "Smart Charging Plan not found.")

    # --- schedules ------------------------------------------------------------------

    def _schedules(self, request, parts):
        """A user's charge schedules (L4241-4873, under /users/{userId} from
        2023-08-01, L4243): list and create there, get, replace, delete and the
        status under /schedules/{id}.  The old /schedules list is gone."""
        method = request.method
        if parts[0] == "users":
            if len(parts) == 3 and method == "GET":
                return 200, self._page([s for s in self.charge_schedules if s["userId"] == parts[1]], parse_qs(request.query))
            if len(parts) == 3 and method == "POST":
                return 200, self._new_schedule(parts[1], self._schedule_body(request))
            raise Problem(404, "No route for %s %s." % (method, request.path))
        schedule = next((s for s in self.charge_schedules if len(parts) > 1 and s["id"] == parts[1]), None)
        if schedule is None:
            raise Problem(404, "Schedule not found.")
        if len(parts) == 2 and method == "GET":
            return 200, schedule
        if len(parts) == 2 and method == "PUT":
            schedule.update(self._schedule_body(request, schedule))
            return 200, schedule
        if len(parts) == 2 and method == "DELETE":
            self.charge_schedules.remove(schedule)
            return 204, None
        if len(parts) == 3 and parts[2] == "status" and method == "GET":
            return 200, self._schedule_status(schedule)
        raise Problem(404, "No route for %s %s." % (method, request.path))

    def _schedule_body(self, request, old=None):
        keys = ("isEnabled", "defaultShouldCharge", "rules", "targetId", "targetType", "locationId")
        body = self._body(request, keys)
        wanted = dict(old or {})
        wanted.update(body)
        for name in ("isEnabled", "defaultShouldCharge"):
            if not isinstance(wanted.get(name), bool):
                raise bad_body('"%s" is required and must be a boolean' % name)
        if not isinstance(wanted.get("rules"), list):
            raise bad_body('"rules" is required and must be an array')
        for rule in wanted["rules"]:
            if not isinstance(rule, dict) or not isinstance(rule.get("shouldCharge"), bool):
                raise bad_body('every rule needs "shouldCharge" (a boolean)')
            window = rule.get("hourMinute")
            if window is not None and not (isinstance(window, dict) and _is_hour_minute(window.get("from")) and _is_hour_minute(window.get("to"))):
                raise bad_body('"hourMinute" needs "from" and "to" as "HH:MM"')
        if wanted.get("targetType") not in ("vehicle", "charger"):
            raise bad_body('"targetType" must be one of [vehicle, charger]')
        return body

    def _new_schedule(self, user_id, body):
        kind = "vehicles" if body["targetType"] == "vehicle" else "chargers"
        device = self._find(kind, body.get("targetId"), Problem(404, "The target of the schedule was not found."))
        if device["userId"] != user_id:
            raise Problem(404, "The target of the schedule was not found.")
        schedule = {"id": str(uuid.uuid4()), "userId": user_id, "locationId": body.get("locationId")}
        schedule.update(body)
        self.charge_schedules.append(schedule)
        return schedule

    def _schedule_status(self, schedule):
        """GET /schedules/{id}/status (L4759).  Assumption: the state enum is lost
        (L4787); ALIGNED, MISALIGNED and DISABLED are Enode's public words.
        Rules are read in UTC (Enode: the location's zone)."""
        kind = "vehicles" if schedule["targetType"] == "vehicle" else "chargers"
        device = self._find(kind, schedule["targetId"])
        charge = device["chargeState"]
        now = time.time()
        should = _should_charge(schedule, now)
        needs = not charge.get("isFullyCharged", False)
        expected = should and needs and bool(charge["isPluggedIn"])
        if not schedule["isEnabled"]:
            state = "DISABLED"
        else:
            state = "ALIGNED" if bool(charge["isCharging"]) == expected else "MISALIGNED"
        transitions = []
        at, last = now - now % 60, should
        while len(transitions) < 2 and at < now + 7 * 86400:  # a maximum of 2 (L4826)
            at += 60
            value = _should_charge(schedule, at)
            if value != last:
                transitions.append({"at": iso(at), "shouldCharge": value})
                last = value
        return {
            "scheduleId": schedule["id"],
            "scheduleType": "CHARGE",
            "changedAt": iso(now),
            "state": state,
            "isCharging": bool(charge["isCharging"]),
            "isChargingExpected": expected,
            "isChargingExpectedParts": {"needsCharge": needs, "isPluggedIn": bool(charge["isPluggedIn"]), "shouldCharge": should},
            "upcomingTransitions": transitions,
            "externalStart": None,
        }

    # --- statistics -----------------------------------------------------------------

    def _statistics(self, user_id, which, query):
        """GET /users/{userId}/statistics/charging or /production (L5591, L5947):
        one bucket per UTC day from startDate to endDate (default now).
        Assumption: only resolution DAY is simulated."""
        start = _unix(query.get("startDate", [None])[0])
        if start is None:
            raise bad_body('"startDate" is required, an ISO 8601 time like 2021-03-21T00:15:00.000Z')
        end = _unix(query.get("endDate", [iso(time.time())])[0])
        if end is None:
            raise bad_body('"endDate" must be an ISO 8601 time')
        resolution = query.get("resolution", ["DAY"])[0]
        if resolution != "DAY":
            raise bad_body('"resolution" %s is not simulated (DAY is)' % resolution)
        default = "vehicle" if which == "charging" else "inverter"
        type_ = query.get("type", [default])[0]
        kinds = {"vehicle": "vehicles", "charger": "chargers"} if which == "charging" else {"inverter": "inverters"}
        if type_ not in kinds:
            raise bad_body('"type" must be one of [%s]' % ", ".join(kinds))
        mine = [d for d in self.devices[kinds[type_]] if d["userId"] == user_id]
        if "id" in query:
            mine = [d for d in mine if d["id"] == query["id"][0]]
            if not mine:
                raise Problem(404, "The requested asset wasn't found.")
        today = time.time() - time.time() % 86400
        buckets = []
        day = start - start % 86400
        while day <= end:
            kwh = cost = 0.0
            money = "costSum" if which == "charging" else "earningsSum"
            for device in mine:
                figures = {"kwhSum": 10.0, money: 15.0} if day < today else {"kwhSum": 0.0, money: 0.0}
                if day >= today:
                    figures.update(self.statistics.get((type_, device["id"]), {}))
                kwh += figures["kwhSum"]
                cost += figures[money]
            bucket = {"kw": {"min": 0, "max": 11.0, "mean": round(kwh / 24, 3)}, "kwhSum": round(kwh, 3), "price": {"min": 1.2, "max": 1.8, "mean": 1.5}}
            if which == "charging":
                bucket.update(costSum=round(cost, 3), nonSmartPrice={"min": 1.3, "max": 2.0, "mean": 1.7}, nonSmartCostSum=round(cost * 1.2, 3))
                bucket.update(estimatedSavings=round(cost * 0.2, 3) if kwh else None, smartSession=False)
            else:
                bucket["earningsSum"] = round(cost, 3)
            bucket["date"] = iso(day)
            buckets.append(bucket)
            day += 86400
        return buckets

    # --- actions --------------------------------------------------------------------

    def _new_action(self, kind, device, family, extra, effect):
        """A PENDING action; an earlier PENDING one of the same family on the same
        target is CANCELLED (L1004, L1906, L2066, L8100)."""
        for pending in self._pending_for(device["id"], family):
            self._resolve(pending, "CANCELLED", time.time(), {"type": "CONFLICT", "detail": "A newer action for this target has been created."})
        now = time.time()
        action = {
            "id": str(uuid.uuid4()),
            "userId": device["userId"],
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "completedAt": None,
            "state": "PENDING",
            "targetId": device["id"],
            # The reference's charger examples say "vehicle" (notes, surprise 5); a
            # charger's actions say "charger" here.
            "targetType": TARGET_TYPES[kind],
        }
        action.update(extra)
        self._actions[action["id"]] = action
        self._pending.append(
            {"action": action, "kind": kind, "family": family, "due": time.monotonic() + self.action_delay, "at": now + self.action_delay, "effect": effect}
        )
        return action

    def _pending_for(self, device_id, family):
        return [p for p in self._pending if p["action"]["targetId"] == device_id and p["family"] == family]

    def _settle(self):
        """Resolve every PENDING action whose time has come, oldest first."""
        now = time.monotonic()
        for pending in sorted((p for p in self._pending if p["due"] <= now), key=lambda p: p["due"]):
            device = self._find(pending["kind"], pending["action"]["targetId"])
            failing = self._failing.get(device["id"])
            if failing:
                self._resolve(pending, "FAILED", pending["at"], {"type": failing[0], "detail": failing[1]})
                continue
            state, reason = pending["effect"](device, pending["at"])
            if state == "CONFIRMED":
                device["lastSeen"] = iso(pending["at"])
            self._resolve(pending, state, pending["at"], reason)

    def _resolve(self, pending, state, at, reason=None):
        self._pending.remove(pending)
        action = pending["action"]
        action["state"] = state
        action["updatedAt"] = action["completedAt"] = iso(at)
        if "failureReason" in action:  # battery and HVAC actions have none (notes §4)
            action["failureReason"] = reason

    def _cancel_request(self, action):
        """200 with the action CANCELLED, or 409 with the action itself if it is
        already resolved: the reference's 409 body is the Action, not a problem."""
        pending = next((p for p in self._pending if p["action"] is action), None)
        if pending is None:
            return 409, action
        reason = {"type": "REQUESTED_CANCELLATION", "detail": "The action was cancelled on request."}
        self._resolve(pending, "CANCELLED", time.time(), reason)
        return 200, action


def main():
    parser = argparse.ArgumentParser(description="An Enode cloud simulator on loopback.")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with the self-signed test certificate")
    parser.add_argument("--action-delay", type=float, default=1.0, help="seconds an action stays PENDING")
    args = parser.parse_args()
    sim = EnodeSim(args.port, tls=args.tls, action_delay=args.action_delay)
    banner = "Enode at %s (token: POST /oauth2/token)\n  client id " + CLIENT_ID + ", secret " + CLIENT_SECRET + ", user " + USER_ID
    serve_forever(sim, banner)


if __name__ == "__main__":
    main()
