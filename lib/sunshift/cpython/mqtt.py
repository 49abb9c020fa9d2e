"""MQTT on CPython, on paho-mqtt, driven by our own non-blocking poll.

The same interface as net/mqtt.py:

    client = Client(host, port, client_id, username, password, will=(topic, payload))
    client.subscribe("evcc/#")
    messages = client.poll()          # [(topic, payload bytes)]; never blocks
    client.publish(topic, payload, retain=False)

``poll()`` (re)connects when it is time (backoff from 1 s to 60 s), moves the
socket's pending traffic, and returns what arrived.  State changes go to
``on_state(up, text)`` so the caller can log them once per episode.  paho runs
without its thread (its "external loop" API), so everything happens inside
poll() on the caller's thread, as on a board.
"""

import select
import socket

import paho.mqtt.client as paho

from ..errors import TransportError
from ..net.link import Link
from ..port import TIMEOUT, ticks_ms

AVAILABLE = True
# Packets moved per poll at most: a subscription to evcc/# can bring hundreds
# of retained messages at once; the rest waits for the next poll.
MAX_PACKETS = 2000


class Client(Link):
    """One connection to a broker."""

    def __init__(self, host, port=1883, client_id="sunshift", username=None, password=None, will=None, keepalive=30, timeout=TIMEOUT, on_state=None):
        Link.__init__(self, host, port, keepalive, timeout, on_state)
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True, reconnect_on_failure=False)
        c.connect_timeout = timeout
        if username:
            c.username_pw_set(username, password)
        if will:
            c.will_set(will[0], will[1], qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_socket_open = _no_delay
        self.client = c

    # --- paho callbacks (called from inside poll) --------------------------------

    def _on_connect(self, client, userdata, flags, reason, properties):
        if reason.is_failure:
            self._down("the broker refused the connection (%s)" % reason, "auth" if "authoriz" in str(reason).lower() else "refused")
            return
        for topic in self.topics:
            client.subscribe(topic, qos=1)
        self.note_up()

    def _on_disconnect(self, client, userdata, flags, reason, properties):
        if self.open:
            self._down("the connection to %s was lost (%s)" % (self.where(), reason), "reset")

    def _on_message(self, client, userdata, message):
        self.arrived(message.topic, message.payload)

    # --- state --------------------------------------------------------------------

    def _down(self, text, kind):
        self.note_down(text, kind)
        try:
            self.client.disconnect()
        except Exception:
            pass
        self.client._sock_close()

    def _connect(self):
        try:
            self.client.connect(self.host, self.port, self.keepalive)
            self.open = True
        except ConnectionRefusedError:
            self._down("connection to %s refused (is the broker running?)" % self.where(), "refused")
        except (TimeoutError, OSError) as e:
            self._down("cannot connect to %s (%s)" % (self.where(), e.strerror or e), "network")

    # --- the interface -----------------------------------------------------------

    def subscribe(self, topic):
        """Subscribe now if connected, and again after every reconnect."""
        if topic not in self.topics:
            self.topics.append(topic)
            if self.connected:
                self.client.subscribe(topic, qos=1)

    def publish(self, topic, payload, retain=False):
        """Publish (QoS 1); raises TransportError when not connected."""
        if not self.connected:
            raise self.not_connected()
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise TransportError("closed", "could not publish to %s (%s)" % (topic, paho.error_string(info.rc)))
        # Send it now; reading waits for the next poll (a publish may come from a callback).
        if self.client.want_write():
            self.client.loop_write()

    def poll(self):
        """Connect if due, move pending traffic, return [(topic, payload)] received."""
        if not self.open and self.backoff.due(ticks_ms()):
            self._connect()
        if self.open:
            self._pump()
        return self.take()

    def _pump(self):
        c = self.client
        for _ in range(MAX_PACKETS):
            sock = c.socket()
            if sock is None:
                if self.open:
                    self._down("the connection to %s was lost" % self.where(), "reset")
                return
            try:
                readable, writable, _ = select.select([sock], [sock] if c.want_write() else [], [], 0)
            except (OSError, ValueError):
                self._down("the connection to %s was lost" % self.where(), "reset")
                return
            if not readable and not writable:
                break
            if writable and c.loop_write() != paho.MQTT_ERR_SUCCESS:
                self._down("the connection to %s was lost while sending" % self.where(), "reset")
                return
            if readable and c.loop_read() != paho.MQTT_ERR_SUCCESS:
                if self.open:
                    self._down("the connection to %s was lost" % self.where(), "reset")
                return
        if self.open and c.loop_misc() != paho.MQTT_ERR_SUCCESS:
            self._down("the broker at %s stopped answering" % self.where(), "timeout")

    def close(self):
        """Disconnect cleanly (the broker then does not publish the last will)."""
        if self.open:
            self.open = False
            self.connected = False
            self.client.disconnect()
            self._pump_out()

    def _pump_out(self):
        try:
            self.client.loop_write()
        except Exception:
            pass
        self.client._sock_close()


def _no_delay(client, userdata, sock):
    """A setting we publish goes out at once, not after the broker's delayed ACK (up to 40 ms)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass  # not a TCP socket (a unix socket or a test double): nothing to tune
