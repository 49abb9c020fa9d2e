"""EMS-ESP: the gateway to Bosch, Buderus and Nefit boilers and heat pumps.

Signals mirror EMS-ESP's API paths with dots: `GET /api/boiler` gives
`{"curflowtemp": 60.2, "dhw": {"seltemp": 52, "curtemp": 48.5}}`, which become
`emsesp.boiler.curflowtemp`, `emsesp.boiler.dhw.seltemp`,
`emsesp.boiler.dhw.curtemp`; the thermostat's circuits are
`emsesp.thermostat.hc1.seltemp` and so on.  EMS-ESP's "on"/"off" become
true/false.  (Names are EMS-ESP 3.7's; 3.6 called the hot-water entities
`boiler.wwseltemp` and so on.)

Read by REST (`GET /api/<device>` for each device) or MQTT (the
`<base>/<device>_data` topics, nested or one topic per circuit).  Written by
REST (`POST /api/boiler/dhw/seltemp` with `{"value": 60}` and the bearer
token) or MQTT (`<base>/boiler/dhw/seltemp`, payload `60`).  This module is the
REST adapter and what both transports share; the MQTT one is
``emsesp_mqtt.EmsEspMqtt``, on a board only when EMS-ESP is read over MQTT.
"""

from ..errors import DeviceError, ValueRefused, clip, clip_repr
from .adapter import TRANSPORT_KEY, Adapter, flatten
from .webapi import WebApi

DEVICES = ("boiler", "thermostat", "mixer", "heatpump", "solar", "switch", "controller", "pump", "ventilation", "heatsource", "water")
_TRUE = ("on", "ON", "true", "TRUE")
_FALSE = ("off", "OFF", "false", "FALSE")
ENTITY_KEYS = {"value"}
AUTH_HINT = "make a token in EMS-ESP's Security > Manage Users (key button of the admin user) and put it in the secrets file"


def normalise(value):
    """EMS-ESP's "on"/"off" (its default boolean format) as true/false."""
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    return value


def device_signals(name, device, data):
    """Signals of one device's values answer (``data`` is its JSON object)."""
    out = {}
    if isinstance(data, dict):
        flatten(data, "%s.%s" % (name, device), out)
    for key in out:
        out[key] = normalise(out[key])
    return out


class EmsEsp(Adapter):
    """One EMS-ESP gateway read and written by REST; ``devices`` are the ones polled."""

    kind = "emsesp"
    title = "EMS-ESP"
    # The entities rules use most (docs/signals.md); any other entity of a
    # device is there too, named as in EMS-ESP's API.
    SIGNALS = (
        ("boiler.dhw.seltemp", "°C"),
        ("boiler.dhw.curtemp", "°C"),
        ("boiler.dhw.charging", "bool"),
        ("boiler.dhw.onetime", "bool"),
        ("boiler.dhw.activated", "bool"),
        ("boiler.curflowtemp", "°C"),
        ("boiler.heatingactivated", "bool"),
        ("boiler.hpcurrpower", "W"),
        ("thermostat.hc<n>.seltemp", "°C"),
        ("thermostat.hc<n>.currtemp", "°C"),
        ("thermostat.hc<n>.mode", "text"),
        ("<device>.*", "any"),
    )
    # Any entity of a device EMS-ESP knows; EMS-ESP itself says which are writable.
    TARGETS = (("<device>.*", "entity"),)
    VALUES = (("entity", "any", "a number, true/false or text, as the entity takes it (EMS-ESP checks)"),)
    CHOICES = (("device", DEVICES),)
    NOT_WRITABLE = "not an EMS-ESP entity (like emsesp.boiler.dhw.seltemp)"
    CONFIG_KEYS = (
        ("url", "url"),
        TRANSPORT_KEY,
        ("base", "topic"),
        ("devices", "words", DEVICES),
        ("entities", "entities", DEVICES),
        ("token", "secret"),
    ) + Adapter.COMMON_KEYS
    POLL = 10
    URL_EXAMPLE = "http://ems-esp.local"

    def __init__(self, name, url=None, token=None, devices=("boiler", "thermostat"), timeout=Adapter.TIMEOUT, session=None, entities=()):
        self.name = name
        self.devices = tuple(devices)
        # Single entities read one by one ("boiler/dhw/curtemp"): lighter than a
        # whole device's values on a board, when a rule needs only a few.
        self.entities = tuple(entities)
        self.api = WebApi(name, url, token, False, timeout, AUTH_HINT, session) if url else None
        self.need_url()

    @classmethod
    def build(cls, name, spec, mqtt=None, session=None, log=None):
        """The adapter of a checked config entry read over REST."""
        devices = spec.get("devices", () if spec.get("entities") else ("boiler", "thermostat"))
        return cls(name, spec.get("url"), spec.get("token"), devices, spec.get("timeout", cls.TIMEOUT), session, spec.get("entities", ()))

    @classmethod
    def instance_problem(cls, parts, spec, reading):
        """A signal of a device the config does not read (it would never arrive), or None."""
        if not reading:
            return None  # EMS-ESP takes a write to any device's entity, read or not
        entities = spec.get("entities", ())
        devices = spec.get("devices", () if entities else ("boiler", "thermostat"))
        if parts[0] in devices or "/".join(parts) in entities:
            return None
        read = list(devices) + list(entities)
        return 'the config reads %s from EMS-ESP, not %s: add "%s" to its "devices"' % (", ".join(read) or "nothing", parts[0], parts[0])

    @classmethod
    def check_value(cls, target, kind, value):
        """A number, true/false or text (EMS-ESP checks the rest and says so)."""
        if value is None or not isinstance(value, (int, float, str, bool)) or (isinstance(value, float) and value - value != 0):
            raise ValueRefused("%s needs a number, true/false or text, not %s" % (target, clip_repr(value)))
        return value

    def poll(self):
        """The values of every configured device and entity."""
        signals = {}
        for device in self.devices:
            data = self.api.get_json("/api/" + device)
            for key, value in device_signals(self.name, device, data).items():
                signals[key] = value
        for path in self.entities:
            data = self.api.get_json("/api/" + path, ENTITY_KEYS)
            if not isinstance(data, dict) or "value" not in data:
                raise DeviceError(self.name, "GET /api/" + path, "the answer has no value (the entity is not readable now)", "body")
            signals["%s.%s" % (self.name, path.replace("/", "."))] = normalise(data["value"])
        return signals

    def write(self, target, value):
        """Set one entity; raises ValueRefused or DeviceError (with EMS-ESP's own message)."""
        parts, _, value = self.validate(target, value)
        self._send("/".join(parts), value)

    def _send(self, path, value):
        # The checked value to EMS-ESP over REST (emsesp_mqtt.EmsEspMqtt publishes it instead).
        body = '{"value": %s}' % _json(value)
        url = "/api/" + path
        status, _, answer = self.api.call("POST", url, body, {"Content-Type": "application/json"})
        if status in (400, 404):
            data = self.api.parse("POST", url, answer) if answer[:1] == b"{" else None
            message = data.get("message") if isinstance(data, dict) else None  # EMS-ESP's own words
            message = clip(message) if isinstance(message, str) and message else "HTTP %d" % status
            raise DeviceError(self.name, "POST " + url, "EMS-ESP refused %s = %s: %s" % (path, clip(_json(value)), message), "refused")
        self.api.check_status("POST", url, status, answer)


def _json(value):
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value) if isinstance(value, float) else str(value)
