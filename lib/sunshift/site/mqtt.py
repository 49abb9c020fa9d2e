"""The MQTT side of a site, loaded only when a device is reached over MQTT.

``SiteMqtt`` is the Runner's broker link: it connects with the site's "mqtt"
settings, says online (retained; its last will says offline), hands every
message to the MQTT adapter it belongs to (evcc_mqtt, emsesp_mqtt) and follows
each device's own online/offline status.  It knows the runner only through
what it is given: the adapters, and the callbacks that re-send a device's
settings and feed the engine.  A board deployed for a REST-only site does not
carry this module (tools/board_files.py).
"""

from .. import port
from ..errors import SunshiftError

STATUS_TOPIC = "sunshift/status"


def mqtt_client(spec, on_state, timeout=port.TIMEOUT):
    """A client of the MQTT backend for the site's "mqtt" settings; ``on_state(up, text)``
    hears the link come and go."""
    backend = port.backend("mqtt")
    status = spec.get("status_topic", STATUS_TOPIC)
    return backend.Client(
        spec["host"],
        spec.get("port", 1883),
        spec.get("client_id", "sunshift"),
        spec.get("username"),
        spec.get("password"),
        will=(status, "offline"),
        keepalive=spec.get("keepalive", 30),
        timeout=timeout,
        on_state=on_state,
    )


class SiteMqtt:
    """A site's MQTT link.

    ``spec`` is the site's "mqtt" settings; ``client`` a test's client, or None
    for one made from them; ``adapters`` the site's {name: adapter} (filled
    after this is made); ``reassert(name)`` has the engine send a device's
    settings again; ``feed(name, signals, now)`` gives the engine a device's values.
    """

    def __init__(self, spec, log, adapters, reassert, feed, client=None):
        self.log = log
        self.adapters = adapters
        self.reassert = reassert
        self.feed = feed
        self.status_topic = (spec or {}).get("status_topic", STATUS_TOPIC)
        self.online = {}  # device name -> what it last said about itself
        self.client = mqtt_client(spec, self.state) if client is None else client
        self.client.deliver = self.message  # each message as it arrives, none queued

    def state(self, up, text):
        """The link came up (say online, re-send the MQTT devices' settings) or went down."""
        if up:
            self.log.info("mqtt", text)
            try:
                self.client.publish(self.status_topic, "online", retain=True)
            except SunshiftError:
                pass  # lost again at once: the next connect says it
            # Whatever was published before or while the link was down is lost: send it again.
            for name, adapter in self.adapters.items():
                if adapter.transport == "mqtt":
                    self.reassert(name)
        else:
            self.log.warn("mqtt", text + "; MQTT signals will go stale")

    def receive(self):
        """Read what arrived: each message goes to the MQTT adapter it belongs to
        as it arrives (:meth:`message`), and any the client queued too."""
        for topic, payload in self.client.poll():
            self.message(topic, payload)
        client = self.client
        if not client.said_dropped:
            client.said_dropped = True
            for topic in client.dropped:
                if client.dropped[topic]:
                    size = client.dropped[topic]
                    self.log.warn("mqtt", "a message of %d bytes on %s is more than a board keeps; dropped (evcc's tariffs: give evcc a url)" % (size, topic))
                    client.dropped[topic] = 0  # said once

    def message(self, topic, payload):
        """Hand one message to the MQTT adapter it belongs to."""
        for adapter in self.adapters.values():
            if adapter.transport == "mqtt" and adapter.handle(topic, payload):
                return

    def take(self, name, adapter, now):
        """Feed the engine what an MQTT device sent, and log when it says it went offline or back."""
        online = adapter.feed.online
        if self.online.get(name, True) != online:
            self.online[name] = online
            if online:
                self.log.info(name, "says it is online again")
                self.reassert(name)
            else:
                self.log.warn(name, "says it is offline (its MQTT last will); its signals will go stale")
        signals = adapter.poll()
        if signals:
            self.feed(name, signals, now)

    def close(self):
        """Close the link."""
        self.client.close()
