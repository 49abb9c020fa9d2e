"""EMS-ESP over MQTT: the `<base>/<device>_data` topics (nested, a topic per
circuit or a topic per value), entities written to `<base>/boiler/dhw/seltemp`.

The entity names and value checks are emsesp.py's; this module is on a board
only when EMS-ESP is read over MQTT (devices/kinds.py).
"""

from .adapter import flatten
from .emsesp import SENSORS, EmsEsp, may_be_bool, normalise
from .mqtt_feed import MqttFeed, json_value, publish, subscribe


class EmsEspMqtt(EmsEsp):
    """One EMS-ESP gateway, read and written over MQTT under ``base``."""

    transport = "mqtt"

    def __init__(self, name, mqtt, base="ems-esp"):
        self.name = name
        self.mqtt = mqtt
        self.base = base.rstrip("/")
        self.feed = MqttFeed(self)
        subscribe(name, mqtt, self.base)

    @classmethod
    def build(cls, name, spec, mqtt=None, session=None, log=None):
        """The adapter of a checked config entry read over MQTT."""
        return cls(name, mqtt, spec.get("base", "ems-esp"))

    def poll(self):
        """What arrived since the last call (see mqtt_feed.MqttFeed)."""
        return self.feed.take()

    def handle(self, topic, payload):
        """An MQTT message; True if it was this gateway's."""
        if not topic.startswith(self.base + "/"):
            return False
        rest = topic[len(self.base) + 1 :]
        if rest == "status":
            self.feed.status(payload)
            return True
        if rest == "response":
            return True  # answers to commands, only when EMS-ESP is set to send them
        # <device>_data             {"curflowtemp": 60, "dhw": {"seltemp": 52}}  (nested format)
        # <device>_data_<circuit>   {"seltemp": 52}                             (a topic per circuit)
        # <device>_data[_<circuit>]/<entity...>   52                            (a topic per value)
        cut = rest.find("_data")
        if cut <= 0 or "/" in rest[:cut]:
            return True  # our own commands echoed back, heartbeat, info ...
        prefix = "%s.%s" % (self.name, rest[:cut])
        after = rest[cut + 5 :]
        if after.startswith("_"):
            slash = after.find("/")
            circuit = after[1:] if slash < 0 else after[1:slash]
            prefix += "." + circuit
            after = "" if slash < 0 else after[slash:]
        if after.startswith("/"):
            text = payload.decode() if isinstance(payload, bytes) else payload
            value = json_value(text)
            name = prefix + "." + after[1:].replace("/", ".")
            self.feed.set(name, self.reading(name, text if value is None else value))
            return True
        data = json_value(payload)
        if isinstance(data, dict):
            found = {}
            if rest[:cut] in SENSORS:
                # Nested, EMS-ESP keys its sensors by GPIO or 1-Wire id:
                # {"23": {"name": "relay1", "value": "on"}}, {"28_1767_7B13_2502": {"name": "outdoor", "temp": 7.5}}
                for key in data:
                    item = data[key]
                    if isinstance(item, dict) and isinstance(item.get("name"), str):
                        reading = item.get("value", item.get("temp"))
                        if reading is not None:
                            found[prefix + "." + item["name"]] = reading
                    elif item is not None:
                        found[prefix + "." + key] = item
            else:
                flatten(data, prefix, found)
            for key in found:
                self.feed.set(key, self.reading(key, found[key]))
        return True

    def reading(self, name, value):
        """A value as REST gives it: booleans normalised, an analog sensor's
        digital state 1/0 (MQTT says "on"/"off" where GET /api/analogsensor says 1/0)."""
        if may_be_bool(value):
            value = normalise(value, self.unit_of(name))
        if type(value) is bool and name.startswith(self.name + ".analogsensor."):
            return 1 if value else 0
        return value

    def _send(self, path, value):
        topic = "%s/%s" % (self.base, path)
        payload = ("on" if value else "off") if type(value) is bool else str(value)
        publish(self.name, self.mqtt, topic, payload)
