"""evcc: the wall box controller.  Reads its state, writes its settings.

Signals mirror evcc's MQTT topics with dots: `evcc/site/pvPower` is
`evcc.site.pvPower`, `evcc/loadpoints/1/chargePower` is
`evcc.loadpoints.1.chargePower`.  Read over MQTT (the topics as published) or
REST (`GET /api/state`, flattened to the same names: top-level keys are site
values, `loadpoints` count from 1, `vehicles` by name).  Names follow the evcc
release: since 0.133 grid power is `evcc.site.grid.power` (before:
`evcc.site.gridPower`); since 2026 the battery is `evcc.site.battery.soc`
(before: `evcc.site.batterySoc`).  `python3 main.py read evcc` lists them.

Targets (docs/signals.md has the table) are written by REST
(`POST /api/loadpoints/1/mode/pv`) or MQTT (`evcc/loadpoints/1/mode/set`
with payload `pv`), checked first: a value evcc would refuse never leaves.
This module is the REST adapter and what both transports share; the MQTT one
is ``evcc_mqtt.EvccMqtt``, on a board only when evcc is read over MQTT.
"""

from .. import jsonpick, units
from ..errors import DeviceError, ValueRefused, clip, clip_repr
from ..text import unix_of
from .adapter import DAY, TRANSPORT_KEY, Adapter, flatten
from .webapi import WebApi

MODES = ("off", "pv", "minpv", "now", "smart")
# The tariffs evcc serves at /api/tariff/<type> (its "temperature", since 0.312, is not read).
TARIFFS = ("grid", "feedin", "planner", "co2", "solar")
TARIFF_KEYS = ("result", "rates", "start", "end", "value", "price")
# What the rules may read of GET /api/loadpoints/<n>/plan (PlanResponse in evcc's
# server/http_loadpoint_handler.go; "precondition" only from 0.203.4 to 0.300): its
# list of slots ("plan") is not kept, the state's planActive and
# planProjectedStart/End say what a rule can use of it.
PLAN_KEYS = ("result", "planId", "planTime", "duration", "precondition", "power")

# A target's REST path after /api/<scope> is its setting (the last part) in
# lower case and its MQTT setter the setting itself, except where REST_PATHS
# and evcc_mqtt.MQTT_SETTERS say otherwise.
REST_PATHS = {"enableThreshold": "enable/threshold", "disableThreshold": "disable/threshold", "planEnergy": "plan/energy", "planSoc": "plan/soc"}
NONE_WORDS = ("none", "off", "")
# Value checks of the numeric kinds: (lowest, highest, what the value is).
RANGES = {
    "soc": (0, 100, "a state of charge"),
    "watts": (None, None, "a power in W"),
    "kwh": (0, 1000, "an energy in kWh"),
    "amps": (1, 125, "a current in A"),
}


def number_text(value):
    """A number as evcc's URLs and payloads want it: 80, 1.5, -200 (never 1e-05)."""
    if type(value) is int:
        return str(value)
    text = "%.6f" % value
    return text.rstrip("0").rstrip(".")


def value_text(value):
    """A checked value other than a plan as evcc's URLs and payloads want it."""
    if type(value) is bool:
        return "true" if value else "false"
    return value if isinstance(value, str) else number_text(value)


def _number(target, value, low=None, high=None, what="a number"):
    if type(value) is bool or not isinstance(value, (int, float)) or value - value != 0:
        raise ValueRefused("%s needs %s, not %s" % (target, what, clip_repr(value)))
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueRefused("%s needs %s from %s to %s, not %s" % (target, what, low, high, number_text(value)))
    return value


def utc_time(target, text):
    """Check a plan time is UTC 'YYYY-MM-DDThh:mm:ssZ' (evcc's documented form)."""
    ok = (
        isinstance(text, str)
        and len(text) == 20
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == "T"
        and text[13] == ":"
        and text[16] == ":"
        and text[19] == "Z"
    )
    if ok:
        for k in (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18):
            ok = ok and "0" <= text[k] <= "9"
    if ok:
        month, day, hour, minute, second = int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:19])
        ok = 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60
    if not ok:
        raise ValueRefused("%s needs a time in UTC like 2026-06-21T05:00:00Z, not %s" % (target, clip_repr(text)))
    return text


def _vehicle_name(text):
    """True for a name evcc's route takes: letters, digits and _ . : - ([a-zA-Z0-9_.:-]+)."""
    for c in text:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c in "_.:-"):
            return False
    return text != ""


def check(target, kind, value):
    """The value as evcc takes it (a number, text, or for plans (amount, time));
    None deletes a plan or limit.  Raises ValueRefused with a clear reason."""
    if kind == "mode":
        if not isinstance(value, str) or value.lower() not in MODES:
            raise ValueRefused("%s needs one of %s, not %s" % (target, " ".join(MODES), clip_repr(value)))
        return value.lower()
    if kind in RANGES:
        return _number(target, value, *RANGES[kind])
    if kind == "phases":
        if value not in (0, 1, 3) or type(value) is bool:
            raise ValueRefused("%s needs 0 (automatic), 1 or 3, not %s" % (target, clip_repr(value)))
        return int(value)
    if kind == "bool":
        if type(value) is not bool:
            raise ValueRefused("%s needs true or false, not %s" % (target, clip_repr(value)))
        return value
    if kind == "price":
        if isinstance(value, str) and value.lower() in NONE_WORDS:
            return None
        return _number(target, value, None, None, "a price per kWh")
    if kind == "vehicle":
        if isinstance(value, str) and value.lower() in NONE_WORDS:
            return None
        if isinstance(value, str) and value.lower() == "detect":
            return "detect"
        if not isinstance(value, str) or not _vehicle_name(value):
            raise ValueRefused("%s needs a vehicle's name as evcc knows it (letters, digits, _ . : -), none or detect, not %s" % (target, clip_repr(value)))
        return value
    if kind == "plan":
        if isinstance(value, str) and value.lower() in NONE_WORDS:
            return None
        if not isinstance(value, str) or value.count("@") != 1:
            raise ValueRefused('%s needs "AMOUNT@TIME" like "80@2026-06-21T05:00:00Z", or "none", not %s' % (target, clip_repr(value)))
        amount, when = value.split("@")
        try:
            number = float(amount) if "." in amount else int(amount)
        except ValueError:
            raise ValueRefused("%s: %s is not an amount" % (target, clip_repr(amount)))
        return _number(target, number, 0, 1000, "an amount"), utc_time(target, when)
    raise ValueRefused("%s cannot be written" % target)


def unwrapped(state):
    """A GET /api/state answer without evcc's old "result" wrapper (before 0.207)."""
    if isinstance(state, dict) and list(state) == ["result"]:
        return state["result"]
    return state


def state_signals(name, state, keep=None):
    """Signals from a GET /api/state answer (with or without evcc's old "result" wrapper),
    named as evcc's MQTT topics name them (as_published); with ``keep``, only those."""
    state = unwrapped(state)
    out = {}
    if not isinstance(state, dict):
        return out
    for key in state:
        value = state[key]
        if key == "loadpoints" and isinstance(value, list):
            for k, lp in enumerate(value):
                flatten(lp, "%s.loadpoints.%d" % (name, k + 1), out, 16, as_published, keep)
        elif key == "vehicles" and isinstance(value, dict):
            flatten(value, name + ".vehicles", out, 16, as_published, keep)
        else:
            flatten(value, name + ".site." + key, out, 16, as_published, keep)
    return out


def as_published(value, prefix, out, keep=None):
    """A REST value as evcc publishes it over MQTT (server/mqtt.go), so a rule reads
    the same names and values either way; True if it was one of these (flatten's
    ``shape``): three phases (a list of three numbers) as `prefix.l1` … `.l3` and
    their sum as `prefix`; a time (RFC 3339 over REST) as Unix seconds, a zero
    time as no value.  A loadpoint's `plan` (its slots, a JSON text over MQTT) is
    left out: `<loadpoint>.plan.` names what GET /api/loadpoints/<n>/plan says."""
    if prefix.endswith(".plan"):  # endswith: no slice made for every value a poll reads
        return True
    if isinstance(value, list):
        if len(value) != 3:
            return False
        total = 0
        for item in value:
            if type(item) is not int and type(item) is not float:
                return False
            total += item
        for k in (1, 2, 3):
            name = prefix + ".l%d" % k
            if keep is None or name in keep:
                out[name] = value[k - 1]
        if keep is None or prefix in keep:
            out[prefix] = round(total, 3)  # as evcc publishes it: 3 decimals
        return True
    if isinstance(value, str) and len(value) >= 20 and value[10:11] == "T":
        seconds = unix_of(value)
        if seconds is not None:
            if seconds > 0 and (keep is None or prefix in keep):
                out[prefix] = seconds
            return True
    return False


class Evcc(Adapter):
    """One evcc, read and written by REST."""

    kind = "evcc"
    title = "evcc"
    # The common signals (docs/signals.md); evcc publishes many more, by the
    # same rule: its MQTT topics with "/" as ".".
    SIGNALS = (
        ("site.pvPower", "W"),
        ("site.homePower", "W"),
        ("site.grid.power", "W"),
        ("site.gridPower", "W"),
        ("site.battery.soc", "%"),
        ("site.battery.power", "W"),
        ("site.batterySoc", "%"),
        ("site.batteryPower", "W"),
        ("loadpoints.<n>.mode", "text"),
        ("loadpoints.<n>.chargePower", "W"),
        ("loadpoints.<n>.charging", "bool"),
        ("loadpoints.<n>.connected", "bool"),
        ("loadpoints.<n>.enabled", "bool"),
        ("loadpoints.<n>.vehicleSoc", "%"),
        ("loadpoints.<n>.limitSoc", "%"),
        ("loadpoints.<n>.minCurrent", "A"),
        ("loadpoints.<n>.maxCurrent", "A"),
        ("loadpoints.<n>.offeredCurrent", "A"),
        ("loadpoints.<n>.phasesConfigured", ""),
        ("loadpoints.<n>.phasesActive", ""),
        ("loadpoints.<n>.planActive", "bool"),
        ("loadpoints.<n>.planOverrun", "s"),
        ("loadpoints.<n>.effectivePlanSoc", "%"),
        ("loadpoints.<n>.planTime", ""),
        ("loadpoints.<n>.effectivePlanTime", ""),
        ("loadpoints.<n>.planProjectedStart", ""),
        ("loadpoints.<n>.planProjectedEnd", ""),
        ("loadpoints.<n>.plan.duration", "s"),
        ("loadpoints.<n>.plan.power", "W"),
        ("loadpoints.<n>.plan.planTime", ""),
        ("loadpoints.<n>.plan.planId", ""),
        ("vehicles.<name>.minSoc", "%"),
        ("vehicles.<name>.limitSoc", "%"),
        ("site.tariffGrid", "/kWh"),
        ("site.tariffFeedIn", "/kWh"),
        ("site.currency", "text"),
        ("tariff.grid", "/kWh"),
        ("tariff.feedin", "/kWh"),
        ("tariff.planner", "any"),
        ("tariff.co2", "g/kWh"),
        ("tariff.solar", "W"),
        ("*", "any"),
    )
    # evcc's tariffs (GET /api/tariff/<type>): the price, CO2 or solar power of
    # each slot ahead; a rule reads the slot of now or looks ahead in them.
    FORECASTS = ("tariff.<tariff>",)
    CHOICES = (("tariff", TARIFFS),)
    # Every writable setting and the kind of its value (check() checks it).
    TARGETS = (
        ("site.prioritySoc", "soc"),
        ("site.bufferSoc", "soc"),
        ("site.bufferStartSoc", "soc"),
        ("site.residualPower", "watts"),
        ("site.smartCostLimit", "price"),
        ("site.batteryDischargeControl", "bool"),
        ("loadpoints.<n>.mode", "mode"),
        ("loadpoints.<n>.minSoc", "soc"),
        ("loadpoints.<n>.vehicle", "vehicle"),
        ("loadpoints.<n>.limitSoc", "soc"),
        ("loadpoints.<n>.limitEnergy", "kwh"),
        ("loadpoints.<n>.minCurrent", "amps"),
        ("loadpoints.<n>.maxCurrent", "amps"),
        ("loadpoints.<n>.phases", "phases"),
        ("loadpoints.<n>.enableThreshold", "watts"),
        ("loadpoints.<n>.disableThreshold", "watts"),
        ("loadpoints.<n>.planEnergy", "plan"),
        ("vehicles.<name>.minSoc", "soc"),
        ("vehicles.<name>.limitSoc", "soc"),
        ("vehicles.<name>.planSoc", "plan"),
    )
    VALUES = (
        ("soc", "%", "0–100 (%)"),
        ("watts", "W", "W"),
        ("kwh", "kWh", "0–1000 (kWh)"),
        ("amps", "A", "1–125 (A)"),
        ("mode", "text", "`off`, `pv`, `minpv`, `now`, `smart`"),
        ("phases", "", "0 (automatic), 1 or 3"),
        ("bool", "bool", "true/false"),
        ("price", "any", "a price per kWh, or `none`"),
        ("plan", "text", '`"AMOUNT@TIME"` (UTC), or `none`'),
        ("vehicle", "text", "a vehicle's name in evcc, `none` to take it off, `detect` to let evcc find it"),
    )
    NOT_WRITABLE = "not a writable evcc setting (docs/signals.md lists them)"
    # tariff_poll: how often the tariffs the rules read are fetched (evcc itself
    # refreshes them hourly at most).
    # No token: evcc's API has none.
    CONFIG_KEYS = (("url", "url"), TRANSPORT_KEY, ("topic", "topic"), ("tariff_poll", "duration", 60, DAY)) + Adapter.COMMON_KEYS
    TARIFF_POLL = 900
    URL_EXAMPLE = "http://evcc.local:7070"

    def __init__(self, name, url=None, timeout=Adapter.TIMEOUT, session=None, log=None, tariff_every=1):
        self.name = name
        self.api = WebApi(name, url, None, False, timeout, "evcc's setters need no token; check the URL", session) if url else None
        self.smart_modes = False  # evcc 2026 reports "smart" where older releases said "pv"
        self.instances = None  # (loadpoints, [vehicle names]) evcc reported in its last whole reading
        self.log = log
        self.tariff_every = tariff_every  # polls between two readings of the tariffs
        self.tariff_wait = 0  # polls until the next
        self.plans = None  # (the wanted it was found for, the loadpoints whose plan the rules read)
        self.plan_said = None  # the last failure of a plan logged (logged again only when it changes)
        self.need_url()

    @classmethod
    def build(cls, name, spec, mqtt=None, session=None, log=None):
        """The adapter of a checked config entry read over REST."""
        return cls(name, spec.get("url"), spec.get("timeout", cls.TIMEOUT), session, log, cls.tariff_polls(spec))

    @classmethod
    def tariff_polls(cls, spec):
        """How many polls of the config entry ``spec`` make one tariff_poll."""
        return max(1, int(spec.get("tariff_poll", cls.TARIFF_POLL) / spec.get("poll", cls.POLL) + 0.5))

    @classmethod
    def check_value(cls, target, kind, value):
        """The value as evcc takes it (see check)."""
        return check(target, kind, value)

    def poll(self):
        """One GET /api/state as {signal: value}, and the tariffs the rules read when they are due."""
        state = unwrapped(self.api.get_json("/api/state"))
        # What the rules read (and `read`: everything): a board keeps no more.
        signals = state_signals(self.name, state, self.wanted or None)
        if not isinstance(state, dict):
            return signals
        currency = state.get("currency")
        if isinstance(currency, str):
            units.set_currency(currency)  # how reasons write a price: "0.19 €/kWh"
        self.read_tariffs(signals)
        loadpoints = state.get("loadpoints")
        self.read_plans(signals, len(loadpoints) if isinstance(loadpoints, list) else 0)
        # Which loadpoints and vehicles evcc has, and whether it says "smart", from
        # the answer itself: the signals kept may name none of them.
        vehicles = state.get("vehicles")
        loadpoints = loadpoints if isinstance(loadpoints, list) else []
        for lp in loadpoints:
            if isinstance(lp, dict) and lp.get("mode") == "smart":
                self.smart_modes = True
        self.instances = (len(loadpoints), list(vehicles) if isinstance(vehicles, dict) else [])
        return signals

    def read_tariffs(self, signals):
        """Into ``signals``, every tariff_poll: each tariff the rules read
        (`evcc.tariff.grid` …) as a forecast.Forecast in Unix seconds, from GET
        /api/tariff/<type>.  A tariff that fails is logged with its endpoint
        and left out (the rules keep the forecast they have while it covers
        now); the state read before it stands."""
        if self.api is None or not self.tariffs_due():
            return
        prefix = self.name + ".tariff."
        # No rules (`read evcc`): every tariff evcc has, quietly without those it lacks.
        wanted = self.wanted or [prefix + kind for kind in TARIFFS]
        for name in wanted:
            if name.startswith(prefix) and name[len(prefix) :] in TARIFFS:
                try:
                    signals[name] = self.tariff(name[len(prefix) :])
                except DeviceError as e:
                    if self.log is not None and self.wanted:
                        self.log.warn(self.name, "%s; %s keeps the forecast it has" % (e, name))

    def plan_loadpoints(self, count):
        """The loadpoints whose plan the rules read (`evcc.loadpoints.2.plan.duration`):
        found once for each set of wanted names; without rules (`read`) all ``count``."""
        wanted = self.wanted
        if not wanted:
            return range(1, count + 1)
        if self.plans is None or self.plans[0] is not wanted:
            prefix = self.name + ".loadpoints."
            found = []
            for name in wanted:
                parts = name[len(prefix) :].split(".") if name.startswith(prefix) else ()
                if len(parts) == 3 and parts[1] == "plan" and parts[0].isdigit() and int(parts[0]) not in found:
                    found.append(int(parts[0]))
            self.plans = (wanted, found)
        return self.plans[1]

    def read_plans(self, signals, count):
        """Into ``signals``, at every poll: what GET /api/loadpoints/<n>/plan says of
        each loadpoint whose plan the rules read, as `evcc.loadpoints.<n>.plan.duration`
        (s), `.power` (W), `.planTime` (Unix s; none without a plan), `.planId`.
        Every poll, as the state: the duration follows the vehicle's SoC.  A
        failure is logged once (with its endpoint) until it changes; the rest stands."""
        if self.api is None:
            return
        for n in self.plan_loadpoints(count):
            path = "/api/loadpoints/%d/plan" % n
            try:
                answer = unwrapped(self.api.get_json(path, PLAN_KEYS))
                if not isinstance(answer, dict):
                    raise DeviceError(self.name, "GET " + path, "bad answer: not a plan", "body")
            except DeviceError as e:
                said = str(e)
                if self.log is not None and self.wanted and said != self.plan_said:
                    self.log.warn(self.name, "%s; %s.loadpoints.%d.plan.* keep the values they have" % (said, self.name, n))
                self.plan_said = said
                continue
            self.plan_said = None
            answer.pop("result", None)
            flatten(answer, "%s.loadpoints.%d.plan" % (self.name, n), signals, 16, as_published, self.wanted or None)

    def tariffs_due(self):
        """True at the first poll and then every tariff_every-th (the polls come every `poll`)."""
        if self.tariff_wait > 0:
            self.tariff_wait -= 1
            return False
        self.tariff_wait = self.tariff_every - 1
        return True

    def tariff(self, kind):
        """The tariff ``kind`` as a Forecast in Unix seconds (GET /api/tariff/<kind>):
        {"rates": [{"start", "end", "value"}]}, in evcc before 0.207 inside
        {"result": ...}, before 0.203 with "price"; a tariff evcc lacks is a 404
        with {"error": "tariff not available"}."""
        from .. import forecast  # here: a board whose rules read no tariff never loads it

        path = "/api/tariff/" + kind
        slots = forecast.Builder()
        status, _, body = self.api.open("GET", path)
        try:
            if not 200 <= status < 300:
                raw = self.api.read_body(body, "GET", path)
                if status == 404:
                    try:
                        said = jsonpick.loads(raw).get("error")
                    except (jsonpick.JsonError, AttributeError):
                        said = None  # evcc before the tariff route: its router's text page
                    why = clip(said) if isinstance(said, str) and said else "not found (HTTP 404)"
                    raise DeviceError(self.name, "GET " + path, "evcc has no %s tariff: %s" % (kind, why), "missing")
                self.api.check_status("GET", path, status, raw)
            answer = self.api.load("GET", path, body, TARIFF_KEYS, lambda item: forecast.add_rate(slots, item))
        finally:
            body.close()
        answer = unwrapped(answer)
        if not isinstance(answer, dict) or not isinstance(answer.get("rates"), list):
            raise DeviceError(self.name, "GET " + path, "bad answer: no list of rates", "body")
        if slots.skipped and not len(slots.starts):
            raise DeviceError(self.name, "GET " + path, "bad answer: none of its %d rates has a start, an end and a value" % slots.skipped, "body")
        return slots.forecast()

    def saw(self, parts, found):
        """``found`` (loadpoints, vehicle names) with what the name ``parts`` (after the
        device's: "loadpoints", "2", ...) shows evcc has."""
        if len(parts) > 1 and parts[0] == "loadpoints" and parts[1].isdigit() and int(parts[1]) > found[0]:
            return int(parts[1]), found[1]
        if len(parts) > 1 and parts[0] == "vehicles" and parts[1] not in found[1]:
            found[1].append(parts[1])
        return found

    def validate(self, target, value):
        """The checks of Adapter.validate, and a loadpoint or vehicle evcc has (once
        it has reported all it has): evcc takes a setter of one it lacks without a word."""
        parts, kind, value = Adapter.validate(self, target, value)
        if self.instances is not None:
            loadpoints, vehicles = self.instances
            if parts[0] == "loadpoints" and loadpoints and int(parts[1]) > loadpoints:
                many = "one loadpoint" if loadpoints == 1 else "%d loadpoints" % loadpoints
                raise ValueRefused("%s is for loadpoint %s, but evcc reports %s" % (target, parts[1], many))
            if parts[0] == "vehicles" and vehicles and parts[1] not in vehicles:
                raise ValueRefused("%s is for vehicle %r, but evcc reports %s" % (target, parts[1], ", ".join(vehicles)))
        return parts, kind, value

    def write(self, target, value):
        """Set one setting; raises ValueRefused (bad value) or DeviceError (evcc said no)."""
        parts, kind, value = self.validate(target, value)
        if kind == "mode" and value == "smart" and not self.smart_modes:
            value = "pv"  # an evcc from before 2026 knows no "smart"; both mean solar charging
        # The scope is where evcc's MQTT topics put the setting: "site/",
        # "loadpoints/1/" or "vehicles/<name>/".
        scope = "/".join(parts[:-1]) + "/"
        self._send(target, scope, parts[-1], kind, value)

    def _send(self, target, scope, name, kind, value):
        # The checked value to evcc over REST (evcc_mqtt.EvccMqtt publishes it instead).
        # REST has the site's settings at the top: /api/prioritysoc, /api/loadpoints/1/mode.
        path = ("" if scope == "site/" else scope) + REST_PATHS.get(name, name.lower())
        if scope[:11] == "loadpoints/" and name == "minSoc":
            path = scope + "mintemp"  # evcc's route for a loadpoint's minimum SoC (server/http.go)
        method = "POST"
        if kind == "vehicle" and value == "detect":
            method, url = "PATCH", "/api/" + path
        elif value is None:
            method, url = "DELETE", "/api/" + path
        elif kind == "plan":
            url = "/api/%s/%s/%s" % (path, number_text(value[0]), value[1])
        else:
            url = "/api/%s/%s" % (path, value_text(value))
        status, _, body = self.api.call(method, url)
        if status in (400, 404, 422):
            answer = self.api.parse(method, url, body) if body[:1] in (b"{", b'"') else None
            reason = answer.get("error") if isinstance(answer, dict) else None  # evcc's own words: {"error": "..."}
            reason = clip(reason) if isinstance(reason, str) and reason else "HTTP %d" % status
            raise DeviceError(self.name, "%s %s" % (method, url), "evcc refused %s = %s: %s" % (target, clip(value), reason), "refused")
        self.api.check_status(method, url, status, body)
