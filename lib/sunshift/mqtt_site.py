"""The MQTT side of a site, loaded only when a device is reached over MQTT.

``MqttSite`` is app.Runner's broker link: it connects with the site's "mqtt"
settings, says online (retained; its last will says offline), hands every
message to the MQTT adapter it belongs to (evcc_mqtt, emsesp_mqtt) and follows
each device's own online/offline status.  A board deployed for a REST-only
site does not carry this module (tools/board_files.py).

A device heard over MQTT sends a value when it publishes, not when we ask; its
signals are as fresh as the last message from it.  ``MqttFeed`` keeps each
signal's latest value and, on every message from the device, offers them all
again at that time, so rules see every value of a device that is talking and
none of one that fell silent or said "offline" in its last will.
"""

from . import jsonpick, port
from .errors import DeviceError, SunshiftError, TransportError


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


def mqtt_client(spec, on_state):
    """A client of the MQTT backend for the site's "mqtt" settings; ``on_state(up, text)``
    hears the link come and go."""
    backend = port.backend("mqtt")
    status = spec.get("status_topic", "sunshift/status")
    return backend.Client(
        spec["host"],
        spec.get("port", 1883),
        spec.get("client_id", "sunshift"),
        spec.get("username"),
        spec.get("password"),
        will=(status, "offline"),
        keepalive=spec.get("keepalive", 30),
        on_state=on_state,
    )


class MqttSite:
    """A Runner's MQTT link: ``client`` (a test's, or one made from the site's
    settings), its inbox for the adapters, and each device's online status."""

    def __init__(self, runner, client=None):
        self.runner = runner
        self.online = {}  # device name -> what it last said about itself
        self.client = mqtt_client(runner.site.mqtt, self.state) if client is None else client

    def state(self, up, text):
        """The link came up (say online, re-send the MQTT devices' settings) or went down."""
        runner = self.runner
        if up:
            runner.log.info("mqtt", text)
            status = runner.site.mqtt.get("status_topic", "sunshift/status")
            try:
                self.client.publish(status, "online", retain=True)
            except SunshiftError:
                pass  # lost again at once: the next connect says it
            # Whatever was published before or while the link was down is lost: send it again.
            for name, adapter in runner.adapters.items():
                if adapter.transport == "mqtt":
                    runner.engine.reassert(name + ".")
        else:
            runner.log.warn("mqtt", text + "; MQTT signals will go stale")

    def receive(self):
        """Hand each message that arrived to the MQTT adapter it belongs to."""
        adapters = self.runner.adapters.values()
        for topic, payload in self.client.poll():
            for adapter in adapters:
                if adapter.transport == "mqtt" and adapter.handle(topic, payload):
                    break

    def take(self, name, adapter, now):
        """Feed the engine what an MQTT device sent, and log when it says it went offline or back."""
        runner = self.runner
        online = adapter.feed.online
        if self.online.get(name, True) != online:
            self.online[name] = online
            if online:
                runner.log.info(name, "says it is online again")
                runner.engine.reassert(name + ".")
            else:
                runner.log.warn(name, "says it is offline (its MQTT last will); its signals will go stale")
        runner.feed(adapter.poll(), now)
