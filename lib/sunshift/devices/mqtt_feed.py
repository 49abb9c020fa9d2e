"""What the MQTT adapters share (evcc_mqtt, emsesp_mqtt): their subscription,
their writes, and how fresh their values are.  A board deployed for a
REST-only site does not carry this module (tools/board_files.py).

A device heard over MQTT sends a value when it publishes, not when we ask; its
signals are as fresh as the last message from it.  ``MqttFeed`` keeps each
signal's latest value and, on every message from the device, offers them all
again at that time, so rules see every value of a device that is talking and
none of one that fell silent or said "offline" in its last will.
"""

from .. import jsonpick
from ..errors import DeviceError, TransportError


def json_value(payload, keep=None):
    """Parse a JSON payload, or None if it is not JSON."""
    try:
        return jsonpick.loads(payload, keep)
    except jsonpick.JsonError:
        return None


class MqttFeed:
    """The signals one MQTT device gave, and whether it is still talking.

    It keeps only the signals ``adapter.wanted`` names (what the rules read;
    everything when that is empty, as for `read`): evcc publishes a hundred
    values and more, and a board has no room to hold them all.
    """

    def __init__(self, adapter):
        self.adapter = adapter
        self.values = {}
        self.online = True
        self.heard = False  # a message arrived since the last take()

    def set(self, name, value):
        """A value arrived; None (an empty, cleared topic) forgets the signal."""
        self.heard = True
        if value is None:
            self.values.pop(name, None)
            return
        wanted = self.adapter.wanted
        if not wanted or name in wanted:
            self.values[name] = value

    def status(self, payload):
        """The device's own online/offline status (its MQTT last will; str or bytes)."""
        if isinstance(payload, bytes):
            payload = payload.decode("utf-8", "replace")  # never compared with a str as bytes (MicroPython warns)
        self.online = payload != "offline"
        self.heard = True

    def take(self):
        """Every value, if the device spoke since the last call and is online; else {}."""
        if not self.heard or not self.online:
            self.heard = False
            return {}
        self.heard = False
        return self.values


def subscribe(name, mqtt, root):
    """Make sure an MQTT device has the site's broker, and subscribe to
    everything under its ``root`` topic."""
    if mqtt is None:
        raise DeviceError(name, "mqtt", "transport mqtt needs the site's mqtt broker settings", "config")
    mqtt.subscribe(root + "/#")


def publish(name, mqtt, topic, payload):
    """Send a device's setting; a broken link is a DeviceError of that device."""
    try:
        mqtt.publish(topic, payload)
    except TransportError as e:
        raise DeviceError(name, "MQTT " + topic, str(e), e.kind)
