"""Shared by the adapters: turning device values into signals, and MQTT freshness.

A device heard over MQTT sends a value when it publishes, not when we ask; its
signals are as fresh as the last message from it.  ``MqttFeed`` keeps each
signal's latest value and, on every message from the device, offers them all
again at that time, so rules see every value of a device that is talking and
none of one that fell silent or said "offline" in its last will.
"""

from . import jsonpick
from .errors import DeviceError


def text_value(payload):
    """A value from text (an MQTT payload, a trace cell): number, true/false, text,
    or None when empty.  NaN and infinity stay text: they are not measurements."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeError:
            return None
    text = payload.strip()
    if text == "":
        return None
    low = text.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if value - value == 0 else text


def flatten(value, prefix, out, max_list=16):
    """Add every leaf of a JSON value to ``out`` as prefix.key.key (lists from 1; nulls left out).

    Lists longer than ``max_list`` (tariff and forecast slots) are left out: no
    rule reads the 97th price slot, and a board has no room for them.
    """
    if isinstance(value, dict):
        for key in value:
            flatten(value[key], prefix + "." + key, out, max_list)
    elif isinstance(value, list):
        if len(value) <= max_list:
            for k, item in enumerate(value):
                flatten(item, "%s.%d" % (prefix, k + 1), out, max_list)
    elif value is not None:  # null is no value, as an empty MQTT payload is
        out[prefix] = value
    return out


def json_value(payload, keep=None):
    """Parse a JSON payload, or None if it is not JSON."""
    try:
        return jsonpick.loads(payload, keep)
    except jsonpick.JsonError:
        return None


class MqttFeed:
    """The signals one MQTT device gave, and whether it is still talking."""

    def __init__(self):
        self.values = {}
        self.online = True
        self.heard = False  # a message arrived since the last take()

    def set(self, name, value):
        """A value arrived; None (an empty, cleared topic) forgets the signal."""
        if value is None:
            self.values.pop(name, None)
        else:
            self.values[name] = value
        self.heard = True

    def status(self, payload):
        """The device's own online/offline status (its MQTT last will; str or bytes)."""
        self.online = payload != "offline" and payload != b"offline"
        self.heard = True

    def take(self):
        """Every value, if the device spoke since the last call and is online; else {}."""
        if not self.heard or not self.online:
            self.heard = False
            return {}
        self.heard = False
        return self.values


def check_transport(name, transport, mqtt, api, root, url_example):
    """Make sure a device can be reached the way it is configured; over MQTT,
    subscribe to everything under its ``root`` topic."""
    if transport == "mqtt":
        if mqtt is None:
            raise DeviceError(name, "mqtt", "transport mqtt needs the site's mqtt broker settings", "config")
        mqtt.subscribe(root + "/#")
    elif api is None:
        raise DeviceError(name, "config", "transport rest needs the device's url (like %s)" % url_example, "config")
