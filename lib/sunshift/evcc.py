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
"""

from .errors import DeviceError, TransportError, ValueRefused
from .feed import MqttFeed, check_transport, flatten, text_value
from .webapi import WebApi

MODES = ("off", "pv", "minpv", "now", "smart")

# target setting -> kind of value.  Its REST path after /api/<scope> is the
# setting in lower case and its MQTT setter the setting itself, except where
# REST_PATHS and MQTT_SETTERS say otherwise.
SITE = {
    "prioritySoc": "soc",
    "bufferSoc": "soc",
    "bufferStartSoc": "soc",
    "residualPower": "watts",
    "smartCostLimit": "price",
    "batteryDischargeControl": "bool",
}
LOADPOINT = {
    "mode": "mode",
    "limitSoc": "soc",
    "limitEnergy": "kwh",
    "minCurrent": "amps",
    "maxCurrent": "amps",
    "phases": "phases",
    "enableThreshold": "watts",
    "disableThreshold": "watts",
    "planEnergy": "plan",
}
VEHICLE = {
    "minSoc": "soc",
    "limitSoc": "soc",
    "planSoc": "plan",
}
REST_PATHS = {"enableThreshold": "enable/threshold", "disableThreshold": "disable/threshold", "planEnergy": "plan/energy", "planSoc": "plan/soc"}
# evcc's MQTT setter is phasesConfigured (it was `phases` before 2026).
MQTT_SETTERS = {"phases": "phasesConfigured"}
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


def _text(value):
    """A checked value other than a plan as evcc's URLs and payloads want it."""
    if type(value) is bool:
        return "true" if value else "false"
    return value if isinstance(value, str) else number_text(value)


def _number(target, value, low=None, high=None, what="a number"):
    if type(value) is bool or not isinstance(value, (int, float)) or value - value != 0:
        raise ValueRefused("%s needs %s, not %r" % (target, what, value))
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
        raise ValueRefused("%s needs a time in UTC like 2026-06-21T05:00:00Z, not %r" % (target, text))
    return text


def check(target, kind, value):
    """The value as evcc takes it (a number, text, or for plans (amount, time));
    None deletes a plan or limit.  Raises ValueRefused with a clear reason."""
    if kind == "mode":
        if not isinstance(value, str) or value.lower() not in MODES:
            raise ValueRefused("%s needs one of %s, not %r" % (target, " ".join(MODES), value))
        return value.lower()
    if kind in RANGES:
        return _number(target, value, *RANGES[kind])
    if kind == "phases":
        if value not in (0, 1, 3) or type(value) is bool:
            raise ValueRefused("%s needs 0 (automatic), 1 or 3, not %r" % (target, value))
        return int(value)
    if kind == "bool":
        if type(value) is not bool:
            raise ValueRefused("%s needs true or false, not %r" % (target, value))
        return value
    if kind == "price":
        if isinstance(value, str) and value.lower() in NONE_WORDS:
            return None
        return _number(target, value, None, None, "a price per kWh")
    if kind == "plan":
        if isinstance(value, str) and value.lower() in NONE_WORDS:
            return None
        if not isinstance(value, str) or value.count("@") != 1:
            raise ValueRefused('%s needs "AMOUNT@TIME" like "80@2026-06-21T05:00:00Z", or "none", not %r' % (target, value))
        amount, when = value.split("@")
        try:
            number = float(amount) if "." in amount else int(amount)
        except ValueError:
            raise ValueRefused("%s: %r is not an amount" % (target, amount))
        return _number(target, number, 0, 1000, "an amount"), utc_time(target, when)
    raise ValueRefused("%s cannot be written" % target)


def setting(device, target):
    """(REST path after /api/, MQTT topic after the base topic, kind) of a target."""
    parts = target.split(".")
    name = parts[-1]
    if len(parts) == 3 and parts[1] == "site" and name in SITE:
        rest, mqtt, kind = "", "site/", SITE[name]
    elif len(parts) == 4 and parts[1] == "loadpoints" and name in LOADPOINT and parts[2].isdigit():
        rest = mqtt = "loadpoints/%s/" % parts[2]
        kind = LOADPOINT[name]
    elif len(parts) == 4 and parts[1] == "vehicles" and name in VEHICLE:
        rest = mqtt = "vehicles/%s/" % parts[2]
        kind = VEHICLE[name]
    else:
        raise DeviceError(device, target, "not a writable evcc setting (docs/signals.md lists them)", "refused")
    return rest + REST_PATHS.get(name, name.lower()), mqtt + MQTT_SETTERS.get(name, name), kind


def state_signals(name, state):
    """Signals from a GET /api/state answer (with or without evcc's old "result" wrapper)."""
    if isinstance(state, dict) and list(state) == ["result"]:
        state = state["result"]  # evcc before 0.207 wrapped every answer
    out = {}
    if not isinstance(state, dict):
        return out
    for key in state:
        value = state[key]
        if key == "loadpoints" and isinstance(value, list):
            for k, lp in enumerate(value):
                flatten(lp, "%s.loadpoints.%d" % (name, k + 1), out)
        elif key == "vehicles" and isinstance(value, dict):
            flatten(value, name + ".vehicles", out)
        else:
            flatten(value, name + ".site." + key, out)
    return out


class Evcc:
    """One evcc, read and written by REST or MQTT (``transport``)."""

    def __init__(self, name, url=None, transport="rest", mqtt=None, topic="evcc", timeout=5, session=None):
        self.name = name
        self.transport = transport
        self.topic = topic.rstrip("/")
        self.mqtt = mqtt
        self.api = WebApi(name, url, None, False, timeout, "evcc's setters need no token; check the URL", session) if url else None
        self.feed = MqttFeed()
        self.smart_modes = False  # evcc 2026 reports "smart" where older releases said "pv"
        check_transport(name, transport, mqtt, self.api, self.topic, "http://evcc.local:7070")

    # --- reading --------------------------------------------------------------

    def poll(self):
        """REST: one GET /api/state as {signal: value}.  MQTT: what arrived since the last call."""
        if self.transport == "mqtt":
            return self.feed.take()
        signals = state_signals(self.name, self.api.get_json("/api/state"))
        self._notice_modes(signals)
        return signals

    def handle(self, topic, payload):
        """An MQTT message; True if it was this evcc's."""
        if not topic.startswith(self.topic + "/"):
            return False
        rest = topic[len(self.topic) + 1 :]
        if rest.endswith("/set"):
            return True  # evcc clears its setter topics; not state
        if rest == "status":
            self.feed.status(payload)
            return True
        name = self.name + "." + rest.replace("/", ".")
        value = text_value(payload)
        self.feed.set(name, value)
        if rest.endswith("/mode") and value == "smart":
            self.smart_modes = True
        return True

    def _notice_modes(self, signals):
        for name in signals:
            if name.endswith(".mode") and signals[name] == "smart":
                self.smart_modes = True

    # --- writing --------------------------------------------------------------

    def write(self, target, value):
        """Set one setting; raises ValueRefused (bad value) or DeviceError (evcc said no)."""
        rest, topic, kind = setting(self.name, target)
        value = check(target, kind, value)
        if kind == "mode" and value == "smart" and not self.smart_modes:
            value = "pv"  # an evcc from before 2026 knows no "smart"; both mean solar charging
        if self.transport == "mqtt":
            self._publish(topic, kind, value)
        else:
            self._post(target, rest, kind, value)

    def _publish(self, path, kind, value):
        topic = "%s/%s/set" % (self.topic, path)
        if value is None:
            payload = "none"  # never an empty payload: evcc ignores those
        elif kind == "plan":
            payload = '{"value": %s, "time": "%s"}' % (number_text(value[0]), value[1])
        else:
            payload = _text(value)
        try:
            self.mqtt.publish(topic, payload)
        except TransportError as e:
            raise DeviceError(self.name, "MQTT " + topic, str(e), e.kind)

    def _post(self, target, path, kind, value):
        method = "POST"
        if value is None:
            method, url = "DELETE", "/api/" + path
        elif kind == "plan":
            url = "/api/%s/%s/%s" % (path, number_text(value[0]), value[1])
        else:
            url = "/api/%s/%s" % (path, _text(value))
        status, _, body = self.api.call(method, url)
        if status in (400, 404, 422):
            answer = self.api.parse(method, url, body) if body[:1] in (b"{", b'"') else None
            reason = answer.get("error") if isinstance(answer, dict) else None
            raise DeviceError(self.name, "%s %s" % (method, url), "evcc refused %s = %s: %s" % (target, value, reason or "HTTP %d" % status), "refused")
        self.api.check_status(method, url, status, body)

    def close(self):
        """Close kept-alive connections."""
        if self.api:
            self.api.close()
