"""An evcc on loopback: REST (`GET /api/state`, the setter endpoints) and MQTT.

    python3 tools/simulators/evcc.py [--port 7070] [--broker 127.0.0.1:1883] [--smart]

It behaves as evcc's source does (tools/simulators/README.md has the notes):

* `GET /api/state` answers the state without a "result" wrapper (evcc 0.207+;
  `wrap_result=True` gives the older form); grid power is `grid.power`, the
  battery `battery.soc` / `battery.power`.
* Setters: `POST /api/<setting>/<value>` for the site, `/api/loadpoints/<n>/...`
  and `/api/vehicles/<name>/...`; success is 200 with the value read back,
  a bad value 400 with `{"error": "..."}`, an unknown path 404 with Go's
  `404 page not found` (so is `/api/health`: evcc 0.300.6 removed it).
  No token: evcc's setters have none.
* MQTT: the whole state is published retained under `evcc/` every
  ``interval`` seconds (values as text, lists as /1, /2 ...), `evcc/status` is
  `online` with `offline` as the last will; `<topic>/set` writes are applied,
  then the setter topic is cleared with an empty retained message; empty
  payloads are ignored.
* ``smart_modes=True`` behaves as evcc 2026: it reports `smart` and accepts
  `pv` and `minpv` as `smart`.
* Tariffs (``set_tariff``): `GET /api/tariff/<type>` answers
  `{"rates": [{"start", "end", "value"}]}` with RFC 3339 times in the site's
  offset (``offset``, +01:00 by default), as evcc 0.207+ does; a type evcc
  does not know is a 404 `{"error": "<type> does not belong to TariffUsage
  values"}`, one not configured a 404 `{"error": "tariff not available"}`,
  a type in capitals Go's text 404 (evcc's route takes `[a-z]+`); `planner`
  falls back to `grid`.  The state has `tariffGrid`, `tariffFeedIn` (the
  slot of now, by the simulator's clock ``clock``) and `currency`; MQTT has
  `site/forecast/<type>` as one JSON text of the rates (evcc 0.200 to
  0.313; `feedIn` spelt as evcc's Go field).
* The planner (``planned``): a vehicle's `planSoc` (capacity ``capacity``) or a
  loadpoint's `planEnergy` with its time gives the cheapest slots of the
  planner (else grid) tariff before it.  `GET /api/loadpoints/<n>/plan`
  answers `{"planId", "planTime", "duration", "plan", "power"}` as evcc's
  planHandler: always 200 (no plan: planId 0, Go's zero time, plan null), a
  loadpoint evcc lacks Go's text 404.  The state has the planner's keys
  (`plan`, `planActive`, `planProjectedStart`/`End`, `planOverrun`,
  `effectivePlanTime`/`Soc`/`Id`), the plan only while a vehicle is
  connected; over MQTT `loadpoints/<n>/plan` is one JSON text of the slots.

Every applied write is recorded in ``writes`` as (transport, target, value).
"""

import argparse
import calendar
import copy
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from simulators.base import Simulator, broker_address, serve_forever

MODES = ("off", "pv", "minpv", "now")
# evcc's TariffUsage values (api/tariff.go), and what its MQTT topics call them.
TARIFF_TYPES = ("co2", "feedin", "grid", "planner", "solar", "temperature")
MQTT_TARIFF = {"feedin": "feedIn"}
STATE_TARIFF = {"grid": "tariffGrid", "feedin": "tariffFeedIn", "co2": "tariffCo2", "solar": "tariffSolar"}
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def initial_state(loadpoints=1, vehicles=("car",)):
    """A quiet evening: nothing produced, the car plugged in and waiting."""
    state = {
        "siteTitle": "Home",
        "grid": {"power": 450.0},
        "pvPower": 0.0,
        "homePower": 450.0,
        "battery": {"soc": 60.0, "power": 0.0},
        "prioritySoc": 0.0,
        "bufferSoc": 100.0,
        "bufferStartSoc": 0.0,
        "residualPower": 100.0,
        "smartCostLimit": None,
        "batteryDischargeControl": False,
        "loadpoints": [],
        "vehicles": {},
    }
    for n in range(loadpoints):
        state["loadpoints"].append(
            {
                "title": "Carport %d" % (n + 1),
                "mode": "off",
                "chargePower": 0.0,
                "charging": False,
                "connected": True,
                "enabled": False,
                "vehicleName": vehicles[0] if vehicles else "",
                "vehicleDetectionActive": False,
                "chargeCurrents": [0.0, 0.0, 0.0],
                "minSoc": 0,
                "vehicleSoc": 35.0,
                "limitSoc": 80,
                "limitEnergy": 0.0,
                "minCurrent": 6.0,
                "maxCurrent": 16.0,
                "phasesConfigured": 3,
                "phasesActive": 3,
                "enableThreshold": 0.0,
                "disableThreshold": 0.0,
                "planEnergy": 0.0,
                "planTime": None,
                "offeredCurrent": 0.0,
                # What evcc's planner publishes (core/loadpoint_plan.go), kept by _plan_now().
                "effectivePlanId": 0,
                "effectivePlanTime": None,
                "effectivePlanSoc": 0,
                "plan": None,
                "planActive": False,
                "planProjectedStart": None,
                "planProjectedEnd": None,
                "planOverrun": 0,
            }
        )
    for name in vehicles:
        state["vehicles"][name] = {"title": name.title(), "minSoc": 0, "limitSoc": 100, "planSoc": 0, "planTime": None}
    return state


def text(value):
    """A value as evcc publishes it over MQTT: a time (RFC 3339 in the state) as Unix seconds."""
    if value is None:
        return ""
    if isinstance(value, str) and UTC.match(value):
        unix = calendar.timegm(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S"))
        if not value.endswith("Z"):
            sign = -1 if value[-6] == "-" else 1
            unix -= sign * (int(value[-5:-3]) * 3600 + int(value[-2:]) * 60)
        return str(unix)
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        return ("%.3f" % value).rstrip("0").rstrip(".")
    return str(value)


def topics(value, topic, out):
    """[(topic, payload)] for a value, the way evcc splits state into topics."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "plan" and "/loadpoints/" in topic:
                # api.Rates is a BytesMarshaler: one JSON text, empty for none (server/mqtt.go).
                out.append((topic + "/plan", json.dumps(item) if item else ""))
                continue
            topics(item, topic + "/" + key, out)
    elif isinstance(value, list) and len(value) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        # evcc's publish(): three phases as l1..l3, their sum at the topic itself.
        out.append((topic, text(float(sum(value)))))
        for k, item in enumerate(value):
            out.append(("%s/l%d" % (topic, k + 1), text(item)))
    elif isinstance(value, list):
        out.append((topic, str(len(value))))
        for k, item in enumerate(value):
            topics(item, "%s/%d" % (topic, k + 1), out)
    else:
        out.append((topic, text(value)))
    return out


class BadValue(Exception):
    """A setter value evcc would refuse (HTTP 400)."""


def parse_number(raw, integer=False):
    try:
        return int(raw) if integer else float(raw)
    except (TypeError, ValueError):
        raise BadValue("invalid value: %s" % raw)


def parse_bool(raw):
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise BadValue("invalid bool: %s" % raw)


class EvccSimulator(Simulator):
    """evcc's REST and MQTT APIs over a state dictionary."""

    name = "evcc"

    def __init__(self, port=0, broker=None, topic="evcc", loadpoints=1, vehicles=("car",), smart_modes=False, wrap_result=False, interval=1.0):
        Simulator.__init__(self, port)
        self.interval = interval
        self.state = initial_state(loadpoints, vehicles)
        self.smart_modes = smart_modes
        self.wrap_result = wrap_result
        self.topic = topic
        self.broker = broker
        self.writes = []
        self.state_lock = threading.Lock()
        self.sent = {}  # topic -> payload last published
        self.tariffs = {}  # type -> [(start, end, value)] in Unix seconds
        self.offset = 3600  # the site's UTC offset, for the times of rates
        self.clock = time.time  # what "now" is for the tariffs' current values (the demo's day)
        self.tariff_gets = []  # the types asked for, in order
        self.rate_key = "value"  # "price": evcc before 0.203
        self.tariff_fault = None  # (status, content type, body) every tariff answers with, if set
        self.capacity = 50.0  # kWh of every vehicle's battery, for the planner
        self.plan_gets = []  # the loadpoints whose plan was asked for, in order
        self.plan_fault = None  # (status, content type, body) every plan answers with, if set

    # --- life cycle ----------------------------------------------------------

    def start(self):
        Simulator.start(self)
        if self.broker:
            self.start_mqtt(self.broker, "evcc-sim-%d" % self.port, self.topic + "/status", [self.topic + "/#"], self.interval)
        return self

    def publish_state(self, changed_only=False, updated=None):
        """Publish the whole state once (retained), as evcc does every cycle;
        ``changed_only`` skips topics whose payload is what was last sent (the
        demo, at 1440 times real time, would otherwise flood the broker);
        ``updated`` replaces the time in the closing `updated` topic, so the
        demo can tell when a round has arrived."""
        mqtt = self.mqtt  # once: stop() may clear it while this runs in the publish thread
        if not mqtt:
            return
        with self.state_lock:
            self._plan_now()
            state = copy.deepcopy(self.state)
        out = []
        for key, value in state.items():
            if key == "loadpoints":
                topics(value, self.topic + "/loadpoints", out)
            elif key == "vehicles":
                topics(value, self.topic + "/vehicles", out)
            else:
                topics(value, self.topic + "/site/" + key, out)
        with self.state_lock:
            for kind in self.tariffs:
                out.append(("%s/site/forecast/%s" % (self.topic, MQTT_TARIFF.get(kind, kind)), json.dumps(self.rates(kind))))
        sent = self.sent
        for topic, payload in out:
            if changed_only and sent.get(topic) == payload:
                continue
            if mqtt.publish(topic, payload):
                sent[topic] = payload
        mqtt.publish(self.topic + "/updated", str(int(time.time()) if updated is None else updated))

    # --- the physics a test or the demo drives -------------------------------------

    def set_tariff(self, kind, slots):
        """Configure the tariff ``kind`` ("grid", "feedin", ...): [(start, end, value)]
        in Unix seconds; None removes it (a 404 "tariff not available")."""
        with self.state_lock:
            if slots is None:
                self.tariffs.pop(kind, None)
            else:
                self.tariffs[kind] = list(slots)
            self._tariff_now()

    def _tariff_now(self):
        # The state's current values: the slot that holds the simulator's now.
        now = self.clock()
        self.state["currency"] = "EUR"
        for kind, key in STATE_TARIFF.items():
            value = None
            for start, end, v in self.tariffs.get(kind, ()):
                if start <= now < end:
                    value = v
            self.state[key] = value

    def rates(self, kind):
        """The rates of a tariff as evcc's JSON has them."""
        out = []
        for start, end, value in self.tariffs.get(kind, ()):
            out.append({"start": self.rfc3339(start), "end": self.rfc3339(end), self.rate_key: value})
        return out

    def rfc3339(self, unix):
        """A Unix time as Go writes a time.Time in the site's offset: 2026-06-21T08:00:00+01:00."""
        local = time.gmtime(unix + self.offset)
        sign = "+" if self.offset >= 0 else "-"
        minutes = abs(self.offset) // 60
        return time.strftime("%Y-%m-%dT%H:%M:%S", local) + "%s%02d:%02d" % (sign, minutes // 60, minutes % 60)

    def tariff_answer(self, kind):
        """(status, type, body) of GET /api/tariff/<kind>, as evcc's tariffHandler."""
        self.tariff_gets.append(kind)
        if self.tariff_fault is not None:
            return self.tariff_fault
        if not re.match(r"^[a-z]+$", kind):
            return 404, "text/plain; charset=utf-8", b"404 page not found\n"
        if kind not in TARIFF_TYPES:
            return 404, "application/json", json.dumps({"error": "%s does not belong to TariffUsage values" % kind}).encode()
        with self.state_lock:
            found = kind if kind in self.tariffs else "grid" if kind == "planner" and "grid" in self.tariffs else None
            if found is None:
                return 404, "application/json", b'{"error": "tariff not available"}'
            body = {"rates": self.rates(found)}
        return 200, "application/json", json.dumps({"result": body} if self.wrap_result else body).encode()

    def set_site(self, **values):
        """Change site values, e.g. set_site(pvPower=4000)."""
        with self.state_lock:
            for key, value in values.items():
                if key == "gridPower":
                    self.state["grid"]["power"] = value
                else:
                    self.state[key] = value

    def loadpoint(self, n=1):
        """The state dictionary of loadpoint ``n`` (from 1)."""
        return self.state["loadpoints"][n - 1]

    # --- the planner ------------------------------------------------------------------

    def parse_time(self, value):
        """Unix seconds of an RFC 3339 time (a plan's), None for none."""
        return None if value is None else int(text(value))

    def planned(self, lp):
        """(planId, planTime, duration s, [(start, end, value)], power W, soc goal) of a
        loadpoint, as evcc's planHandler works them out (state_lock held): a vehicle
        with a SoC plans by its planSoc (capacity ``capacity`` kWh), else the
        loadpoint's planEnergy; the slots are the cheapest of the planner tariff
        (else grid) before the plan's time that add up to the duration, or without
        a tariff the last hours before it."""
        power = lp["maxCurrent"] * 230.0 * (1 if lp["phasesConfigured"] == 1 else 3)
        vehicle = self.state["vehicles"].get(lp["vehicleName"])
        if vehicle is not None:
            when, goal = self.parse_time(vehicle["planTime"]), vehicle["planSoc"]
            energy = max(0.0, goal - lp["vehicleSoc"]) / 100.0 * self.capacity
        else:
            when, goal = self.parse_time(lp["planTime"]), 0
            energy = lp["planEnergy"]
        if when is None:
            return 0, None, 0, None, power, 0
        duration = int(energy * 1000 / power * 3600)
        now = self.clock()
        rates = [r for r in self.tariffs.get("planner", self.tariffs.get("grid", ())) if r[1] > now and r[0] < when]
        slots = []
        if rates:
            need = duration
            for start, end, value in sorted(rates, key=lambda r: (r[2], r[0])):
                if need <= 0:
                    break
                slots.append((max(start, now), min(end, when), value))
                need -= min(end, when) - max(start, now)
            slots.sort()
        elif duration > 0:
            slots = [(when - duration, when, 0.0)]
        return 1, when, duration, slots or None, power, goal

    def _plan_now(self):
        # The planner's keys of the state, as core/loadpoint_plan.go publishes them:
        # the plan only while a vehicle is connected.
        now = self.clock()
        for lp in self.state["loadpoints"]:
            plan_id, when, duration, slots, _, goal = self.planned(lp)
            lp["effectivePlanId"] = plan_id
            lp["effectivePlanTime"] = None if when is None else self.rfc3339(when)
            lp["effectivePlanSoc"] = goal
            if not lp["connected"] or not slots:
                slots = None
            lp["plan"] = None if slots is None else [{"start": self.rfc3339(a), "end": self.rfc3339(b), "value": v} for a, b, v in slots]
            lp["planActive"] = slots is not None and any(a <= now < b for a, b, _ in slots)
            lp["planProjectedStart"] = None if slots is None else self.rfc3339(slots[0][0])
            lp["planProjectedEnd"] = None if slots is None else self.rfc3339(slots[-1][1])
            lp["planOverrun"] = max(0, duration - (when - int(now))) if slots is not None else 0

    def plan_answer(self, n):
        """(status, type, body) of GET /api/loadpoints/<n>/plan, as evcc's planHandler
        (server/http_loadpoint_handler.go): always 200, without a plan planId 0, Go's
        zero time, duration 0 and plan null; a loadpoint evcc lacks has no route (404)."""
        self.plan_gets.append(n)
        if self.plan_fault is not None:
            return self.plan_fault
        with self.state_lock:
            if not 1 <= n <= len(self.state["loadpoints"]):
                return 404, "text/plain; charset=utf-8", b"404 page not found\n"
            plan_id, when, duration, slots, power, _ = self.planned(self.state["loadpoints"][n - 1])
        body = {
            "planId": plan_id,
            "planTime": "0001-01-01T00:00:00Z" if when is None else self.rfc3339(when),
            "duration": duration,
            "plan": None if slots is None else [{"start": self.rfc3339(a), "end": self.rfc3339(b), "value": v} for a, b, v in slots],
            "power": power,
        }
        return 200, "application/json", json.dumps({"result": body} if self.wrap_result else body).encode()

    # --- REST -----------------------------------------------------------------------

    def unauthorized(self, request):
        return 401, "application/json", b'{"error": "unauthorized"}'

    def handle(self, request):
        if request.method == "GET" and request.path.startswith("/api/tariff/"):
            return self.tariff_answer(request.path[12:])
        if request.method == "GET" and re.match(r"^/api/loadpoints/\d+/plan$", request.path):
            return self.plan_answer(int(request.path.split("/")[3]))
        if request.method == "GET" and request.path == "/api/state":
            with self.state_lock:
                if self.tariffs:
                    self._tariff_now()
                self._plan_now()
                body = json.dumps({"result": self.state} if self.wrap_result else self.state)
            return 200, "application/json", body.encode()
        if request.method in ("POST", "DELETE", "PATCH") and request.path.startswith("/api/"):
            try:
                result = self.rest_write(request.method, request.path[5:].split("/"))
            except BadValue as e:
                return 400, "application/json", json.dumps({"error": str(e)}).encode()
            if result is not _NOT_FOUND:
                body = {"result": result} if self.wrap_result else result
                return 200, "application/json", json.dumps(body).encode()
        return 404, "text/plain; charset=utf-8", b"404 page not found\n"

    def rest_write(self, method, parts):
        """Apply a REST setter; returns the value read back, or _NOT_FOUND."""
        site = {
            "prioritysoc": "prioritySoc",
            "buffersoc": "bufferSoc",
            "bufferstartsoc": "bufferStartSoc",
            "residualpower": "residualPower",
            "smartcostlimit": "smartCostLimit",
            "batterydischargecontrol": "batteryDischargeControl",
        }
        if len(parts) == 2 and parts[0] in site and method == "POST":
            return self.apply("rest", "site", None, site[parts[0]], parts[1])
        if len(parts) == 1 and parts[0] == "smartcostlimit" and method == "DELETE":
            return self.apply("rest", "site", None, "smartCostLimit", None)
        if len(parts) >= 3 and parts[0] == "loadpoints" and parts[1].isdigit():
            n = int(parts[1])
            if not 1 <= n <= len(self.state["loadpoints"]):
                return _NOT_FOUND
            names = {
                "mode": "mode",
                "mintemp": "minSoc",  # evcc's route for a loadpoint's minimum SoC (server/http.go)
                "limitsoc": "limitSoc",
                "limitenergy": "limitEnergy",
                "mincurrent": "minCurrent",
                "maxcurrent": "maxCurrent",
                "phases": "phasesConfigured",
            }
            rest = parts[2:]
            if method == "POST" and len(rest) == 2 and rest[0] in names:
                return self.apply("rest", "loadpoints", n, names[rest[0]], rest[1])
            if method == "POST" and len(rest) == 3 and rest[0] in ("enable", "disable") and rest[1] == "threshold":
                return self.apply("rest", "loadpoints", n, rest[0] + "Threshold", rest[2])
            if rest[0] == "vehicle":
                # POST selects a vehicle (400 if evcc has none of that name), DELETE
                # takes it off, PATCH starts detection: each answers a JSON object.
                if method == "POST" and len(rest) == 2:
                    return {"vehicle": self.apply("rest", "loadpoints", n, "vehicle", rest[1])}
                if method == "DELETE" and len(rest) == 1:
                    self.apply("rest", "loadpoints", n, "vehicle", None)
                    return {}
                if method == "PATCH" and len(rest) == 1:
                    self.apply("rest", "loadpoints", n, "vehicle", "detect")
                    return {}
            if rest[:2] == ["plan", "energy"]:
                if method == "POST" and len(rest) == 4:
                    return self.apply("rest", "loadpoints", n, "planEnergy", (rest[2], rest[3]))
                if method == "DELETE" and len(rest) == 2:
                    return self.apply("rest", "loadpoints", n, "planEnergy", None)
        if len(parts) >= 3 and parts[0] == "vehicles":
            name = parts[1]
            if name not in self.state["vehicles"]:
                return _NOT_FOUND
            rest = parts[2:]
            if method == "POST" and len(rest) == 2 and rest[0] in ("minsoc", "limitsoc"):
                return self.apply("rest", "vehicles", name, "minSoc" if rest[0] == "minsoc" else "limitSoc", rest[1])
            if rest[:2] == ["plan", "soc"]:
                if method == "POST" and len(rest) == 4:
                    return self.apply("rest", "vehicles", name, "planSoc", (rest[2], rest[3]))
                if method == "DELETE" and len(rest) == 2:
                    return self.apply("rest", "vehicles", name, "planSoc", None)
        return _NOT_FOUND

    # --- MQTT -----------------------------------------------------------------------

    def on_mqtt(self, topic, payload):
        """A message on evcc/#: applies `.../set` writes."""
        if not topic.endswith("/set") or not payload:
            return  # evcc ignores empty setter payloads (and sees its own clears as such)
        parts = topic[len(self.topic) + 1 : -4].split("/")
        raw = payload.decode("utf-8", "replace")
        try:
            if len(parts) == 2 and parts[0] == "site":
                self.apply("mqtt", "site", None, parts[1], raw)
            elif len(parts) == 3 and parts[0] == "loadpoints" and parts[1].isdigit():
                setting = {"phasesConfigured": "phasesConfigured", "planEnergy": "planEnergy"}.get(parts[2], parts[2])
                value = self._plan(raw) if setting == "planEnergy" else raw
                self.apply("mqtt", "loadpoints", int(parts[1]), setting, value)
            elif len(parts) == 3 and parts[0] == "vehicles":
                value = self._plan(raw) if parts[2] == "planSoc" else raw
                self.apply("mqtt", "vehicles", parts[1], parts[2], value)
        except BadValue:
            pass  # evcc only logs a bad setter value
        if self.mqtt:
            self.mqtt.publish(topic, "", retain=True)  # evcc clears the setter topic

    @staticmethod
    def _plan(raw):
        if raw in ("none", "null", "nil", "-"):
            return None
        try:
            data = json.loads(raw)
            return (str(data["value"]), data["time"])
        except (ValueError, KeyError, TypeError):
            raise BadValue("invalid plan: %s" % raw)

    # --- applying a write ---------------------------------------------------------

    def apply(self, transport, scope, key, setting, raw):
        """Check and apply one write; returns the value read back (REST answer)."""
        with self.state_lock:
            if scope == "site":
                target = self.state
            elif scope == "loadpoints":
                if not 1 <= key <= len(self.state["loadpoints"]):
                    raise BadValue("invalid loadpoint: %s" % key)
                target = self.state["loadpoints"][key - 1]
            else:
                if key not in self.state["vehicles"]:
                    raise BadValue("invalid vehicle: %s" % key)
                target = self.state["vehicles"][key]
            value = self._convert(setting, raw)
            if setting in ("planEnergy", "planSoc"):
                amount, when = (0, None) if value is None else value
                target[setting] = amount
                target["planTime"] = when
                answer = {} if value is None else {("energy" if setting == "planEnergy" else "soc"): amount, "time": when}
            elif setting == "vehicle":
                if value == "detect":
                    target["vehicleDetectionActive"] = True
                    answer = None
                else:
                    if value is not None and value not in self.state["vehicles"]:
                        raise BadValue("vehicle not found: %s" % value)
                    target["vehicleName"] = value or ""
                    answer = value
            elif setting == "smartCostLimit" and value is None:
                target[setting] = None
                answer = None
            elif setting not in target:
                raise BadValue("invalid setting: %s" % setting)
            else:
                target[setting] = value
                answer = value
                if setting == "mode":
                    self._mode_changed(target)
            name = "%s.%s%s" % (self.name, scope, "" if key is None else ".%s" % key)
            self.writes.append((transport, "%s.%s" % (name, setting), value))
        return answer

    def _convert(self, setting, raw):
        if raw is None:
            return None
        if setting == "vehicle":
            return None if raw in ("", "none", "null", "nil") else raw
        if setting == "mode":
            if raw == "smart" and self.smart_modes:
                return "smart"
            if raw not in MODES:
                raise BadValue("invalid mode: %s" % raw)
            return "smart" if self.smart_modes and raw in ("pv", "minpv") else raw
        if setting in ("prioritySoc", "bufferSoc", "bufferStartSoc", "limitSoc", "minSoc"):
            value = parse_number(raw)
            if not 0 <= value <= 100:
                raise BadValue("invalid soc: %s" % raw)
            return int(value) if setting in ("limitSoc", "minSoc") else value
        if setting == "batteryDischargeControl":
            return parse_bool(raw)
        if setting == "phasesConfigured":
            value = parse_number(raw, True)
            if value not in (0, 1, 3):
                raise BadValue("invalid phases: %s" % raw)
            return value
        if setting in ("planEnergy", "planSoc"):
            amount, when = raw
            if not UTC.match(when):
                raise BadValue("invalid time: %s" % when)
            return parse_number(amount), when
        return parse_number(raw)

    def _mode_changed(self, lp):
        lp["enabled"] = lp["mode"] != "off" and lp["connected"]


_NOT_FOUND = object()


def main():
    parser = argparse.ArgumentParser(description="An evcc simulator on loopback.")
    parser.add_argument("--port", type=int, default=7070)
    parser.add_argument("--broker", help="HOST:PORT of an MQTT broker to publish to")
    parser.add_argument("--smart", action="store_true", help="behave as evcc 2026 (mode smart)")
    args = parser.parse_args()
    serve_forever(EvccSimulator(args.port, broker_address(args.broker), smart_modes=args.smart), "evcc at %s")


if __name__ == "__main__":
    main()
