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
* Booleans read as "on"/"off" (EMS-ESP's default format) and take on/off,
  true/false, 1/0.
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
MODES = ("manual", "auto", "eco", "comfort", "off")
TRUE = ("on", "true", "1")
FALSE = ("off", "false", "0")


class EmsEspSimulator(Simulator):
    """EMS-ESP's REST and MQTT APIs over a small boiler and thermostat."""

    name = "emsesp"

    def __init__(self, port=0, token="test-emsesp-token", broker=None, base="ems-esp", nested=True, interval=1.0, send_response=True):
        Simulator.__init__(self, port)
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
            subs = ["%s/%s/#" % (self.base, device) for device in self.entities] + ["%s/%s" % (self.base, device) for device in self.entities]
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

    # --- values ---------------------------------------------------------------------

    def values(self, device):
        """The short values format of one device: circuits nested."""
        out = {}
        with self.state_lock:
            for circuit, group in self.entities[device].items():
                target = out if circuit == "" else out.setdefault(circuit, {})
                for entity, (value, _, _) in group.items():
                    target[entity] = value
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
        device = parts[1]
        if device not in self.entities:
            return self.answer(404, {"message": "unknown device %s" % device})
        path = "/".join(parts[2:])
        if request.method == "GET":
            if path in ("", "values"):
                return self.answer(200, self.values(device))
            found = self.find(device, path)
            if found is None:
                return self.answer(404, {"message": "no entity '%s' in %s" % (path.split("/")[-1], device)})
            return self.answer(200, self.info(device, *found))
        if request.method == "POST":
            if request.bearer() != self.token:
                return self.unauthorized(request)
            data = request.json()
            if not isinstance(data, dict):
                found = self.find(device, path)  # EMS-ESP 3.7 treats a non-object body as a read
                return self.answer(200, self.info(device, *found) if found else {})
            if not path:
                path = str(data.get("cmd") or data.get("entity") or "")
            value = data.get("value", data.get("data"))
            ok, message = self.write("rest", device, path, value)
            if ok:
                return self.answer(200, {})
            return self.answer(404 if message.startswith("no entity") else 400, {"message": message})
        return self.answer(404, {"message": "not found"})

    def answer(self, status, data):
        return status, "application/json; charset=utf-8", json.dumps(data, separators=(",", ":")).encode()

    def info(self, device, circuit, entity):
        value, kind, writeable = self.entities[device][circuit][entity]
        out = {
            "name": entity,
            "fullname": "%s%s" % (circuit + " " if circuit else "", entity),
            "value": value,
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
        if device not in self.entities:
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
        ok, message = self.write("mqtt", device, path, value)
        if not ok and self.send_response:
            self.mqtt.publish(self.base + "/response", "MQTT command failed with error %s" % message, retain=False)

    # --- writing ---------------------------------------------------------------------

    def write(self, transport, device, path, value):
        """Apply a write: (True, "") or (False, EMS-ESP's message)."""
        found = self.find(device, path)
        short = path.replace(".", "/").split("/")[-1]
        if found is None or not self.entities[device][found[0]][found[1]][2]:
            return False, "no entity '%s' in %s" % (short.lower(), device)
        circuit, entity = found
        _, kind, _ = self.entities[device][circuit][entity]
        converted = self.convert(kind, value)
        if converted is None:
            return False, "Command %s: %s failed (Error)" % (entity, value)
        self.set_value(device, circuit, entity, converted)
        target = ".".join(p for p in ("emsesp", device, circuit, entity) if p)
        self.writes.append((transport, target, converted))
        return True, ""

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
