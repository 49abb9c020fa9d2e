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
from ..port import const
from .adapter import TRANSPORT_KEY, Adapter, fits, flatten
from .webapi import WebApi

DEVICES = ("boiler", "thermostat", "mixer", "heatpump", "solar", "switch", "controller", "pump", "ventilation", "heatsource", "water", "gateway")
# What the gateway itself serves beside the EMS devices, as EMS-ESP 3.7 names
# them (3.5 said "dallassensor"): analog sensors and outputs (GPIOs), 1-Wire
# temperature sensors, and the custom entities (telegram values or RAM).
SENSORS = ("analogsensor", "temperaturesensor", "custom")
# EMS-ESP's boolean formats (its "Boolean Format API" setting): on/off (the
# default), ON/OFF, "true"/"false", true/false; "1"/"0" and 1/0 are booleans
# only where the entity is (see normalise).  yes/no: the document's forms.
_TRUE = ("on", "ON", "true", "TRUE", "yes")
_FALSE = ("off", "OFF", "false", "FALSE", "no")
# EMS-ESP's circuit tags (command.cpp, parse_command_string): hc1-8, dhw,
# dhw1-10, ahs1, hs1-16.
_CIRCUITS = ("hc", "dhw", "ahs", "hs")
# An analog counter's limit (analogsensor.cpp); an output's value is smaller.
OUTPUT_LIMIT = const(4000000)
ENTITY_KEYS = {"value", "type"}
AUTH_HINT = "make a token in EMS-ESP's Security > Manage Users (key button of the admin user) and put it in the secrets file"


def normalise(value, unit=None):
    """EMS-ESP's boolean forms as true/false.  ``unit`` is the entity's own
    ("bool", "text", None when unknown): a word is a boolean unless the entity is
    text (a thermostat's mode "off"); 1/0 only where the entity is boolean."""
    if unit == "text" or type(value) is bool:
        return value
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    if unit == "bool" and value in (1, 0, "1", "0"):
        return value in (1, "1")
    return value


def may_be_bool(value):
    """True for a value whose reading depends on the entity's unit (a boolean
    word, 1/0): only these need unit_of, not every number of a poll."""
    kind = type(value)
    if kind is int:
        return value == 0 or value == 1
    return kind is str and (value in _TRUE or value in _FALSE or value == "1" or value == "0")


def is_circuit(word):
    """True for an EMS-ESP circuit tag: hc1, dhw, dhw2, ahs1, hs3 ..."""
    for head in _CIRCUITS:
        if word.startswith(head):
            rest = word[len(head) :]
            return rest.isdigit() or (rest == "" and head == "dhw")
    return False


def circuit_first(parts):
    """``parts`` (device, entity, circuit) in EMS-ESP's order (device, circuit,
    entity): the document's table also shows {entity}/{hc}, which EMS-ESP 3.7
    answers with "no entity"; other names as they are."""
    if len(parts) == 3 and is_circuit(parts[2]) and not is_circuit(parts[1]):
        return [parts[0], parts[2], parts[1]]
    return parts


def device_signals(name, device, data, unit_of=None):
    """Signals of one device's values answer (``data`` is its JSON object);
    ``unit_of(name)`` says an entity's unit where it is known."""
    out = {}
    if isinstance(data, dict):
        flatten(data, "%s.%s" % (name, device), out)
    for key in out:
        value = out[key]
        if may_be_bool(value):
            out[key] = normalise(value, unit_of(key) if unit_of else None)
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
        # The gateway's own: an analog sensor's or output's value (a number: 0/1
        # for a digital input or output, % for PWM), a 1-Wire sensor's, a custom entity's.
        ("analogsensor.<name>", ""),
        ("temperaturesensor.<name>", "°C"),
        ("custom.<name>", "any"),
        ("<device>.*", "any"),
    )
    # Any entity of a device EMS-ESP knows; EMS-ESP itself says which are
    # writable.  An analog output (a relay for SG Ready, a PWM heater) is
    # written by its name; temperature sensors are read-only.
    TARGETS = (("analogsensor.<name>", "output"), ("custom.<name>", "entity"), ("<device>.*", "entity"))
    VALUES = (
        ("output", "", "a number or true/false: 0/1 a digital output, 0–100 (%) PWM, a count a counter (EMS-ESP checks the rest)"),
        ("entity", "any", "a number, true/false or text, as the entity takes it (EMS-ESP checks)"),
    )
    CHOICES = (("device", DEVICES),)
    NOT_WRITABLE = (
        "not a writable EMS-ESP entity (like emsesp.boiler.dhw.seltemp, an analog output emsesp.analogsensor.<name>"
        " or emsesp.custom.<name>; temperature sensors are read-only)"
    )
    CONFIG_KEYS = (
        ("url", "url"),
        TRANSPORT_KEY,
        ("base", "topic"),
        ("devices", "words", DEVICES + SENSORS),
        ("entities", "entities", DEVICES + SENSORS),
        ("token", "secret"),
    ) + Adapter.COMMON_KEYS
    POLL = 10
    URL_EXAMPLE = "http://ems-esp.local"

    def __init__(self, name, url=None, token=None, devices=("boiler", "thermostat"), timeout=Adapter.TIMEOUT, session=None, entities=()):
        self.name = name
        self.devices = tuple(devices)
        # Single entities read one by one ("boiler/dhw/curtemp"): lighter than a
        # whole device's values on a board, when a rule needs only a few.
        # EMS-ESP's order either way: "thermostat/seltemp/hc1" is read as "thermostat/hc1/seltemp".
        self.entities = tuple("/".join(circuit_first(path.split("/"))) for path in entities)
        self.api = WebApi(name, url, token, False, timeout, AUTH_HINT, session) if url else None
        self.need_url()

    @classmethod
    def build(cls, name, spec, mqtt=None, session=None, log=None):
        """The adapter of a checked config entry read over REST."""
        devices = spec.get("devices", () if spec.get("entities") else ("boiler", "thermostat"))
        return cls(name, spec.get("url"), spec.get("token"), devices, spec.get("timeout", cls.TIMEOUT), session, spec.get("entities", ()))

    @classmethod
    def instance_problem(cls, parts, spec, reading):
        """A name with the circuit last, a signal of a device the config does not
        read (it would never arrive), or None."""
        ordered = circuit_first(parts)
        if ordered is not parts:
            return "EMS-ESP names the circuit before the entity: write emsesp.%s" % ".".join(ordered)
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
        """A number, true/false or text (EMS-ESP checks the rest and says so); an
        analog output a number or true/false (its setvalue takes nothing else)."""
        if kind == "output":
            if type(value) is bool:
                return value
            if isinstance(value, (int, float)) and value - value == 0 and -OUTPUT_LIMIT <= value <= OUTPUT_LIMIT:
                return value
            raise ValueRefused("%s is an analog output: it takes a number or true/false, not %s" % (target, clip_repr(value)))
        if value is None or not isinstance(value, (int, float, str, bool)) or (isinstance(value, float) and value - value != 0):
            raise ValueRefused("%s needs a number, true/false or text, not %s" % (target, clip_repr(value)))
        return value

    def poll(self):
        """The values of every configured device and entity."""
        signals = {}
        for device in self.devices:
            data = self.api.get_json("/api/" + device)
            for key, value in device_signals(self.name, device, data, self.unit_of).items():
                signals[key] = value
        for path in self.entities:
            data = self.api.get_json("/api/" + path, ENTITY_KEYS)
            if not isinstance(data, dict) or "value" not in data:
                raise DeviceError(self.name, "GET /api/" + path, "the answer has no value (the entity is not readable now)", "body")
            name = "%s.%s" % (self.name, path.replace("/", "."))
            signals[name] = normalise(data["value"], "bool" if data.get("type") == "boolean" else self.unit_of(name))
        return signals

    @classmethod
    def unit_of(cls, signal):
        """The unit SIGNALS give ``signal`` (with the device's name) before its
        catch-all, or None: asked only of values that may be a boolean."""
        parts = signal.split(".")[1:]
        for pattern, unit in cls.SIGNALS:
            if unit != "any" and fits(pattern, parts, cls.CHOICES):
                return unit
        return None

    def write(self, target, value):
        """Set one entity; raises ValueRefused or DeviceError (with EMS-ESP's own message)."""
        parts, _, value = self.validate(target, value)
        self._send("/".join(circuit_first(parts)), value)

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
