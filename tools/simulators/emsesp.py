"""An EMS-ESP 3.7 gateway on loopback: its REST API and MQTT.

    python3 tools/simulators/emsesp.py [--port 8081] [--broker 127.0.0.1:1883]

As EMS-ESP's source behaves (notes in tools/simulators/README.md):

* `GET /api/boiler` answers the values, circuits nested (`{"dhw": {...}}`);
  `GET /api/boiler/dhw/seltemp` (or `dhw.seltemp`) one entity's details.
  Reading needs no token.
* `POST /api/boiler/dhw/seltemp` with `{"value": 60}` (or `"data"`) writes;
  it needs `Authorization: Bearer <token>` (401 `{"message": "authentication
  failed"}`).  Success is 200 `{}`; an unknown or read-only entity 404 `{"message":
  "no entity 'curtemp' in boiler"}`; a value the entity does not take 400
  `{"message": "Command seltemp: abc failed (Error)"}`.
* Booleans read as "on"/"off" (EMS-ESP's default format; ``bool_format``
  gives the others) and take on/off, true/false, 1/0.
* The gateway's own: `analogsensor` (a relay, a PWM output, an ADC input),
  `temperaturesensor`, `custom`; outputs written by name or by `setvalue`
  with the GPIO as `id`; `GET /api/system/info` lists the devices and
  `/api/<device>/entities`, `commands`, `info` answer as EMS-ESP 3.7.2 does,
  `{entity}/{hc}` refused as it refuses it (docs/signals.md).
* MQTT: `ems-esp/boiler_data` and `ems-esp/thermostat_data` (nested format) or
  one topic per circuit (`nested=False`: `ems-esp/boiler_data_dhw`), every
  ``interval`` seconds; `ems-esp/status` online, offline as the last will;
  commands on `ems-esp/boiler/dhw/seltemp` (payload the value) are applied;
  errors go to `ems-esp/response` as text.

Every applied write is recorded in ``writes`` as (transport, target, value).
"""

import argparse
import copy
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from simulators.base import Simulator, broker_address, serve_forever

# device -> circuit ("" for none) -> entity -> (value, kind, writeable)
ENTITIES = {
    "boiler": {
        "": {
            "curflowtemp": (45.2, "number", False),
            "heatingactivated": ("on", "boolean", True),
            "burngas": ("off", "boolean", False),
            "hpcurrpower": (0, "number", False),  # a heat pump's compressor, electric W
        },
        "dhw": {
            "seltemp": (50, "number", True),
            "curtemp": (48.5, "number", False),
            "charging": ("off", "boolean", False),
            "onetime": ("off", "boolean", True),
            "activated": ("on", "boolean", True),
        },
    },
    "thermostat": {
        "hc1": {"seltemp": (21.0, "number", True), "currtemp": (20.5, "number", False), "mode": ("auto", "enum", True)},
    },
}
# The gateway's own (kept apart from ENTITIES, whose values tools/bench_memory.py mirrors):
# analog sensors by name -> [gpio, EMS-ESP's type, value] (analogsensor.cpp's AnalogType),
# 1-Wire sensors by name -> (id, °C), custom entities by name -> [value, type, writeable].
ANALOG = {"relay1": [23, "digital out", 0], "heater": [33, "pwm 0", 0], "power_in": [36, "adc", 1250]}
TEMPERATURE = {"outdoor": ("28_1767_7B13_2502", 7.5), "buffer_top": ("28_0CB2_4A13_2503", 45.2)}
CUSTOM = {"sgready": ["off", "boolean", True], "hplimit": [100, "number", True], "flowmeter": [12.5, "number", False]}
WRITABLE_ANALOG = ("counter", "digital out", "pwm 0", "pwm 1", "pwm 2")
# EMS-ESP's "Boolean Format API" setting: how an "on" value is served.
BOOL_FORMATS = {
    "on/off": ("on", "off"),
    "ON/OFF": ("ON", "OFF"),
    "true/false text": ("true", "false"),
    "true/false": (True, False),
    "1/0 text": ("1", "0"),
    "1/0": (1, 0),
}
MODES = ("manual", "auto", "eco", "comfort", "off")
TRUE = ("on", "true", "1")  # Helpers::value2bool: no "yes"/"no", whatever the document says
FALSE = ("off", "false", "0")
SENSORS = ("analogsensor", "temperaturesensor", "custom")


class EmsEspSimulator(Simulator):
    """EMS-ESP's REST and MQTT APIs over a small boiler and thermostat."""

    name = "emsesp"

    def __init__(self, port=0, token="test-emsesp-token", broker=None, base="ems-esp", nested=True, interval=1.0, send_response=True, bool_format="on/off"):
        Simulator.__init__(self, port)
        self.bool_format = bool_format
        self.analog = copy.deepcopy(ANALOG)
        self.temperature = dict(TEMPERATURE)
        self.custom = copy.deepcopy(CUSTOM)
        self.token = token
        self.entities = copy.deepcopy(ENTITIES)
        self.broker = broker
        self.base = base
        self.nested = nested
        self.interval = interval
        self.send_response = send_response
        self.writes = []
        self.state_lock = threading.Lock()

    # --- life cycle ----------------------------------------------------------

    def start(self):
        Simulator.start(self)
        if self.broker:
            devices = list(self.entities) + list(SENSORS)
            subs = ["%s/%s/#" % (self.base, device) for device in devices] + ["%s/%s" % (self.base, device) for device in devices]
            self.start_mqtt(self.broker, "emsesp-sim-%d" % self.port, self.base + "/status", subs, self.interval)
        return self

    def publish_state(self):
        """Publish every device's values once, in the configured format."""
        mqtt = self.mqtt  # once: stop() may clear it while this runs in the publish thread
        if not mqtt:
            return
        for device in self.entities:
            values = self.values(device)
            if self.nested:
                mqtt.publish("%s/%s_data" % (self.base, device), json.dumps(values), retain=False)
                continue
            flat = {k: v for k, v in values.items() if not isinstance(v, dict)}
            if flat:
                mqtt.publish("%s/%s_data" % (self.base, device), json.dumps(flat), retain=False)
            for circuit, group in values.items():
                if isinstance(group, dict):
                    mqtt.publish("%s/%s_data_%s" % (self.base, device, circuit), json.dumps(group), retain=False)
        # The sensors: nested keyed by GPIO or 1-Wire id, else {name: value} (analogsensor.cpp, temperaturesensor.cpp).
        with self.state_lock:
            if self.nested:
                analog = {str(gpio): {"name": name, "value": self.mqtt_analog(kind, value)} for name, (gpio, kind, value) in self.analog.items()}
                temps = {sid: {"name": name, "temp": value} for name, (sid, value) in self.temperature.items()}
            else:
                analog = {name: self.mqtt_analog(kind, value) for name, (gpio, kind, value) in self.analog.items()}
                temps = {name: value for name, (sid, value) in self.temperature.items()}
            custom = {name: self.shown(value, kind) for name, (value, kind, _) in self.custom.items()}
        mqtt.publish("%s/analogsensor_data" % self.base, json.dumps(analog), retain=False)
        mqtt.publish("%s/temperaturesensor_data" % self.base, json.dumps(temps), retain=False)
        mqtt.publish("%s/custom_data" % self.base, json.dumps(custom), retain=False)

    def mqtt_analog(self, kind, value):
        # A digital input's or output's state is a boolean over MQTT, a number over REST.
        return self.shown("on" if value else "off", "boolean") if kind in ("digital in", "digital out") else value

    def shown(self, value, kind):
        """A value as EMS-ESP serves it: a boolean in the configured format."""
        if kind == "boolean":
            return BOOL_FORMATS[self.bool_format][0 if value == "on" else 1]
        return value

    # --- values ---------------------------------------------------------------------

    def values(self, device):
        """The short values format of one device: circuits nested."""
        out = {}
        with self.state_lock:
            for circuit, group in self.entities[device].items():
                target = out if circuit == "" else out.setdefault(circuit, {})
                for entity, (value, kind, _) in group.items():
                    target[entity] = self.shown(value, kind)
        return out

    def set_value(self, device, circuit, entity, value):
        """Change a reading, as the boiler would (a test's or the demo's hand)."""
        with self.state_lock:
            _, kind, writeable = self.entities[device][circuit][entity]
            self.entities[device][circuit][entity] = (value, kind, writeable)

    def value(self, device, circuit, entity):
        """The current value of an entity."""
        return self.entities[device][circuit][entity][0]

    def find(self, device, path):
        """(circuit, entity) for 'dhw/seltemp', 'dhw.seltemp', 'seltemp' ..., or None."""
        path = path.replace(".", "/").strip("/")
        parts = path.split("/")
        if len(parts) == 2 and parts[0] in self.entities[device] and parts[1] in self.entities[device][parts[0]]:
            return parts[0], parts[1]
        if len(parts) == 1:
            for circuit, group in self.entities[device].items():
                if parts[0] in group:
                    return circuit, parts[0]
        return None

    # --- REST -----------------------------------------------------------------------

    def unauthorized(self, request):
        return 401, "application/json; charset=utf-8", b'{"message":"authentication failed"}'

    def handle(self, request):
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "api":
            return 404, "application/json; charset=utf-8", b'{"message":"not found"}'
        device = parts[1].lower()
        path = "/".join(parts[2:5]).lower()  # command.cpp joins at most three parts
        if device == "system":
            return self.system(request, path)
        if device not in self.entities and device not in SENSORS:
            return self.answer(404, {"message": "unknown device %s" % device})
        if request.method == "GET":
            return self.read(device, path)
        if request.method == "POST":
            if request.bearer() != self.token:
                return self.unauthorized(request)
            data = request.json()
            if not isinstance(data, dict):
                return self.read(device, path)  # EMS-ESP 3.7 treats a non-object body as a read
            if not path:
                path = str(data.get("cmd") or data.get("entity") or "").lower()
            for key in ("hc", "id"):  # {"cmd": "seltemp", "hc": 3}: the circuit in the body
                if isinstance(data.get(key), int) and not isinstance(data.get(key), bool) and device == "thermostat" and "/" not in path:
                    path = "hc%d/%s" % (data[key], path)
            if device == "analogsensor" and path == "setvalue":
                path = self.analog_name(data.get("id"))
            value = data.get("value", data.get("data"))
            ok, message = self.write("rest", device, path, value)
            if ok:
                return self.answer(200, {})
            return self.answer(404 if message.startswith("no entity") else 400, {"message": message})
        return self.answer(404, {"message": "not found"})

    def read(self, device, path):
        """GET /api/<device>/<path>: the generic commands, an entity's details or one attribute."""
        if path in ("", "values", "info"):
            return self.answer(200, self.all_values(device, verbose=path == "info"))
        if path == "entities":
            return self.answer(200, {key: details for key, details in self.details(device)})
        if path == "commands":
            return self.answer(200, self.commands(device))
        for key, details in self.details(device):
            names = (key, key.replace(".", "/"), details.get("id"), str(details.get("gpio", "")))
            for name in names:
                if name and (path == name or path.startswith(name + "/")):
                    attribute = path[len(name) + 1 :]
                    if not attribute:
                        return self.answer(200, details)
                    if attribute in details:  # one attribute: plain text (WebAPIService.cpp, api_data)
                        value = details[attribute]
                        text = json.dumps(value) if not isinstance(value, str) else value
                        return 200, "text/plain; charset=utf-8", text.encode()
                    return self.answer(400, {"message": "no attribute '%s' in %s" % (attribute, name)})
        return self.answer(404, {"message": "no entity '%s' in %s" % (path, device)})

    def system(self, request, path):
        """GET /api/system[/info] (its "devices" list) and /api/system/commands; the rest is left out."""
        if request.method == "GET" and path in ("", "info"):
            devices = [{"type": device, "name": device, "entities": len(self.details(device))} for device in self.entities]
            for device in SENSORS:
                devices.append({"type": device, "name": device, "entities": len(self.details(device))})
            return self.answer(200, {"system": {"version": "3.7.2"}, "devices": devices})
        if request.method == "GET" and path == "commands":
            return self.answer(200, self.commands("system"))
        return self.answer(404, {"message": "no entity '%s' in system" % path})

    def all_values(self, device, verbose=False):
        """GET /api/<device> (``values``) and its ``info``: verbose names for an EMS device."""
        if device == "analogsensor":
            return {name: value for name, (_, _, value) in self.analog.items()}
        if device == "temperaturesensor":
            return {name: value for name, (_, value) in self.temperature.items()}
        if device == "custom":
            return {name: self.shown(value, kind) for name, (value, kind, _) in self.custom.items()}
        values = self.values(device)
        if not verbose:
            return values
        out = {}
        for _key, details in self.details(device):
            out[details["fullname"]] = details["value"]
        return out

    def details(self, device):
        """[(key, details)] as GET /api/<device>/entities gives them ("dhw.seltemp" for a circuit's)."""
        out = []
        if device == "analogsensor":
            for name, (gpio, kind, value) in self.analog.items():
                entry = {"name": name, "fullname": name, "gpio": gpio, "type": "number", "analog": kind, "value": value}
                entry.update({"readable": True, "writeable": kind in WRITABLE_ANALOG, "visible": True})
                if kind == "digital out":
                    entry.update({"min": 0, "max": 1})
                elif kind.startswith("pwm"):
                    entry.update({"min": 0, "max": 100, "uom": "%"})
                out.append((name, entry))
        elif device == "temperaturesensor":
            for name, (sid, value) in self.temperature.items():
                entry = {"id": sid, "name": name, "fullname": name, "value": value, "type": "number", "uom": "°C"}
                entry.update({"readable": True, "writeable": False, "visible": True})
                out.append((name, entry))
        elif device == "custom":
            for name, (value, kind, writeable) in self.custom.items():
                entry = {"name": name, "fullname": name, "storage": "ram", "type": kind, "readable": True, "writeable": writeable}
                entry.update({"visible": True, "value": self.shown(value, kind)})
                out.append((name, entry))
        else:
            for circuit, group in self.entities[device].items():
                for entity in group:
                    out.append(((circuit + "." if circuit else "") + entity, self.info(device, circuit, entity)))
        return out

    def commands(self, device):
        """GET /api/<device>/commands: the generic commands and the writable entities (command.cpp, Command::list)."""
        out = {"info": "list all values (verbose)", "values": "list all values", "commands": "list all commands", "entities": "list all entities"}
        if device == "system":
            for name in ("fetch", "restart", "format", "send", "message", "publish", "watch", "read", "response"):
                out[name] = "system command"
            return out
        if device == "analogsensor":
            out["setvalue"] = "set io value"
        for _key, details in self.details(device):
            if details["writeable"]:
                circuit = details.get("circuit", "")
                tagged = details["name"] if not circuit else ("[hc<n>.]" if circuit.startswith("hc") else "dhw[n].") + details["name"]
                out[tagged] = details["fullname"]
        return out

    def analog_name(self, gpio):
        """The analog sensor on ``gpio`` (setvalue's "id"), or a name no sensor has."""
        for name, (pin, _, _) in self.analog.items():
            if pin == gpio:
                return name
        return "setvalue"

    def answer(self, status, data):
        return status, "application/json; charset=utf-8", json.dumps(data, separators=(",", ":")).encode()

    def info(self, device, circuit, entity):
        value, kind, writeable = self.entities[device][circuit][entity]
        out = {
            "name": entity,
            "fullname": "%s%s" % (circuit + " " if circuit else "", entity),
            "value": self.shown(value, kind),
            "type": kind,
            "readable": True,
            "writeable": writeable,
            "visible": True,
        }
        if circuit:
            out["circuit"] = circuit
        if kind == "enum":
            out["enum"] = list(MODES)
        return out

    # --- MQTT -----------------------------------------------------------------------

    def on_mqtt(self, topic, payload):
        """A command on <base>/<device>[/<entity path>]."""
        parts = topic[len(self.base) + 1 :].split("/")
        device = parts[0]
        if device not in self.entities and device not in SENSORS:
            return
        raw = payload.decode("utf-8", "replace")
        path = "/".join(parts[1:])
        try:
            data = json.loads(raw)
        except ValueError:
            data = raw
        if isinstance(data, dict):
            if not path:
                path = str(data.get("cmd") or data.get("entity") or "")
            value = data.get("value", data.get("data"))
        else:
            value = data
        if device == "analogsensor" and path == "setvalue" and isinstance(data, dict):
            path = self.analog_name(data.get("id"))
        ok, message = self.write("mqtt", device, path, value)
        if not ok and self.send_response:
            self.mqtt.publish(self.base + "/response", "MQTT command failed with error %s" % message, retain=False)

    # --- writing ---------------------------------------------------------------------

    def write(self, transport, device, path, value):
        """Apply a write: (True, "") or (False, EMS-ESP's message)."""
        text = self.as_text(value)
        if device in SENSORS:
            return self.write_own(transport, device, path, value, text)
        # command.cpp: a leading circuit is taken off ("hc1/seltemp", "dhw.seltemp"); a trailing
        # one ("seltemp/hc1", the document's {entity}/{hc}) is not, and matches no command.
        command = path.replace(".", "/")
        parts = command.split("/")
        if len(parts) > 1 and parts[0] in self.entities[device]:
            command = "/".join(parts[1:])
        found = self.find(device, path) if "/" not in command else None
        if found is None or not self.entities[device][found[0]][found[1]][2]:
            return False, "no entity '%s' in %s" % (command, device)
        circuit, entity = found
        _, kind, _ = self.entities[device][circuit][entity]
        converted = self.convert(kind, value)
        if converted is None:
            return False, "Command %s: %s failed (Error)" % (entity, text)
        self.set_value(device, circuit, entity, converted)
        target = ".".join(p for p in ("emsesp", device, circuit, entity) if p)
        self.writes.append((transport, target, converted))
        return True, ""

    def as_text(self, value):
        # command.cpp hands every command its value as text: true 1, 2.5 "2.5".
        if value is True or value is False:
            return "1" if value else "0"
        return "" if value is None else str(value)

    def write_own(self, transport, device, name, value, text):
        """An analog output (analogsensor.cpp, command_setvalue) or a custom entity (WebCustomEntityService.cpp)."""
        with self.state_lock:
            if device == "analogsensor" and name in self.analog and self.analog[name][1] in WRITABLE_ANALOG:
                kind = self.analog[name][1]
                number = self.number(text)
                if number is None:
                    flag = self.convert("boolean", text)
                    number = None if flag is None else (1 if flag == "on" else 0)
                if number is None:
                    return False, "Command %s: %s failed (Error)" % (name, text)
                if kind == "digital out":
                    if int(number) not in (0, 1):
                        return True, ""  # EMS-ESP answers OK and leaves the pin as it was
                    number = int(number)
                elif kind.startswith("pwm"):
                    number = min(100, max(0, number))
                elif number < 0 or text.startswith("+"):  # a counter: a sign corrects
                    number = self.analog[name][2] + number
                self.analog[name][2] = number
                self.writes.append((transport, "emsesp.analogsensor." + name, number))
                return True, ""
            if device == "custom" and name in self.custom and self.custom[name][2]:
                kind = self.custom[name][1]
                converted = self.convert(kind, value)
                if converted is None:
                    return False, "Command %s: %s failed (Error)" % (name, text)
                self.custom[name][0] = converted
                self.writes.append((transport, "emsesp.custom." + name, converted))
                return True, ""
        return False, "no entity '%s' in %s" % (name, device)

    def number(self, text):
        try:
            return float(text) if "." in text else int(text)
        except ValueError:
            return None

    def convert(self, kind, value):
        """The stored form of a written value, or None if the entity refuses it."""
        if kind == "number":
            if value is True or value is False:
                return None
            try:
                number = float(value)
            except (TypeError, ValueError):
                return None
            return int(number) if number == int(number) else number
        if kind == "boolean":
            text = str(value).lower() if not isinstance(value, bool) else ("true" if value else "false")
            if text in TRUE:
                return "on"
            if text in FALSE:
                return "off"
            return None
        if kind == "enum":
            return value if value in MODES else None
        return None


def main():
    parser = argparse.ArgumentParser(description="An EMS-ESP simulator on loopback.")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--broker", help="HOST:PORT of an MQTT broker to publish to")
    parser.add_argument("--token", default="test-emsesp-token")
    args = parser.parse_args()
    serve_forever(EmsEspSimulator(args.port, args.token, broker_address(args.broker)), "EMS-ESP at %%s (token %s)" % args.token)


if __name__ == "__main__":
    main()
