"""MQTT on MicroPython, on micropython-lib's umqtt.simple.

The same interface as cpython/mqtt.py (Client, subscribe, publish, poll, close).
umqtt.simple needs three things added for unattended use, done here without
changing it:

* its sockets must keep a timeout: it creates them without one, 1.5+ even
  calls ``settimeout(None)`` in connect(), and after each non-blocking check
  it sets them blocking for ever (a broker that goes silent mid-packet would
  hang the board).  A small stand-in for its ``socket`` module hands it
  sockets on which "blocking" always means "blocking with the timeout";
* it never pings, so poll() sends PINGREQ every keepalive / 2 seconds;
* it counts characters where MQTT counts bytes, so topics and payloads are
  handed to it as UTF-8 bytes;
* it reads a message whole, however large: evcc (0.200 and later) publishes
  its price forecasts as one message of 15 KB and more, which a board's heap
  cannot hold in one piece.  The socket stand-in reads a payload above
  MAX_PAYLOAD in small pieces and drops it; the client says which topic and
  how large (``dropped``), and a board reads evcc's tariffs over REST.

It checks the protocol with ``assert``; an AssertionError is a protocol error
here.  Publishes use QoS 0: umqtt's QoS 1 waits for the PUBACK without a
timeout.
"""

import errno

from ..errors import TransportError
from ..port import TIMEOUT, ticks_diff, ticks_ms
from .link import Link

try:
    from umqtt import simple
except ImportError:
    simple = None

AVAILABLE = simple is not None
MAX_MESSAGES = 200  # handled per poll; more wait for the next
# The largest payload a board keeps: far above a value (EMS-ESP's biggest
# JSON is a few hundred bytes), far below a forecast (evcc's, 15 KB and more).
MAX_PAYLOAD = 4096
_PIECE = 256  # bytes read at a time from a payload that is dropped
# A read that timed out: ETIMEDOUT (ESP32), EAGAIN (unix and WebAssembly ports).
_TIMEOUTS = (getattr(errno, "ETIMEDOUT", 110), getattr(errno, "EAGAIN", 11))


class _TimedSocket:
    """A socket for umqtt.simple on which blocking never means for ever."""

    def __init__(self, sock, timeout):
        self.sock = sock
        self.timeout = timeout
        sock.settimeout(timeout)
        self.dropped = 0  # the size of the payload just dropped (0: none)

    def settimeout(self, seconds):
        self.sock.settimeout(self.timeout if seconds is None else seconds)

    def setblocking(self, flag):
        self.sock.settimeout(self.timeout if flag else 0)

    def connect(self, address):
        self.sock.connect(address)

    def read(self, *size):
        if size and size[0] > MAX_PAYLOAD:
            # Only a message's payload is this large (umqtt reads it in one call):
            # read it in pieces, keep none of it.
            left = size[0]
            piece = bytearray(_PIECE)
            while left:
                got = self.sock.readinto(piece, min(_PIECE, left))
                if not got:
                    raise OSError(-1)  # as umqtt's own: the broker closed it
                left -= got
            self.dropped = size[0]
            return b""
        return self.sock.read(*size)

    def write(self, *data):
        return self.sock.write(*data)

    def close(self):
        self.sock.close()


class _TimedSockets:
    """Stands in for the socket module inside umqtt.simple: same calls, sockets with a timeout."""

    def __init__(self, real, timeout):
        self.real = real
        self.timeout = timeout

    def socket(self, *args):
        return _TimedSocket(self.real.socket(*args), self.timeout)

    def getaddrinfo(self, *args):
        return self.real.getaddrinfo(*args)


def _bytes(text):
    """UTF-8 bytes for umqtt, which sizes packets with len()."""
    return text.encode() if isinstance(text, str) else text


class Client(Link):
    """One connection to a broker from a board."""

    def __init__(self, host, port=1883, client_id="sunshift", username=None, password=None, will=None, keepalive=30, timeout=TIMEOUT, on_state=None):
        Link.__init__(self, host, port, keepalive, timeout, on_state)
        self.pinged = 0
        if not isinstance(simple.socket, _TimedSockets):
            simple.socket = _TimedSockets(simple.socket, timeout)
        self.client = simple.MQTTClient(_bytes(client_id), host, port, _bytes(username), _bytes(password), keepalive)
        if will:
            self.client.set_last_will(_bytes(will[0]), _bytes(will[1]), True, 1)
        self.client.set_callback(self._on_message)
        self.dropped = {}  # topic -> size of the payloads dropped as too large (MAX_PAYLOAD)
        self.said_dropped = True  # the site's MQTT side has logged every topic in dropped

    def _on_message(self, topic, payload):
        topic = topic.decode() if isinstance(topic, bytes) else topic
        sock = self.client.sock
        if sock.dropped:
            # Too large for a board: not handed on (an empty payload would clear the value).
            if topic not in self.dropped:
                self.dropped[topic] = sock.dropped
                self.said_dropped = False
            sock.dropped = 0
            return
        self.arrived(topic, payload)

    def _why(self, e):
        """(kind, words) for a socket error."""
        code = e.args[0] if e.args else 0
        if code in _TIMEOUTS:
            return "timeout", "no answer within %s s" % self.timeout
        if code == -1:  # umqtt's own: the socket read b"", the broker closed it
            return "reset", "the broker closed the connection"
        return "reset", "errno %s" % code

    def _down(self, text, kind):
        self.note_down(text, kind)
        try:
            self.client.sock.close()
        except Exception:
            pass

    def _connect(self):
        simple.socket.timeout = self.timeout  # the stand-in is shared by every client
        try:
            self.client.connect(True)
            for topic in self.topics:
                self.client.subscribe(_bytes(topic), 0)
        except simple.MQTTException as e:
            code = e.args[0] if e.args else 0
            self._down("the broker refused the connection (code %s)" % code, "auth" if code in (4, 5) else "refused")
            return
        except OSError as e:
            self._down("cannot connect to %s (%s)" % (self.where(), self._why(e)[1]), "network")
            return
        except (AssertionError, IndexError):
            self._down("cannot connect to %s (not an MQTT answer)" % self.where(), "network")
            return
        self.pinged = ticks_ms()
        self.note_up()

    def subscribe(self, topic):
        """Subscribe now if connected, and again after every reconnect."""
        if topic not in self.topics:
            self.topics.append(topic)
            if self.connected:
                try:
                    self.client.subscribe(_bytes(topic), 0)
                except (OSError, AssertionError, IndexError):
                    self._down("the connection was lost while subscribing", "reset")

    def publish(self, topic, payload, retain=False):
        """Publish (QoS 0); raises TransportError when not connected or the write fails."""
        if not self.connected:
            raise self.not_connected()
        try:
            self.client.publish(_bytes(topic), _bytes(payload), retain)
        except OSError:
            self._down("the connection was lost while publishing", "reset")
            raise TransportError("reset", "the connection to the MQTT broker was lost")

    def poll(self):
        """Connect if due, read what arrived, keep the connection alive."""
        now = ticks_ms()
        if not self.open and self.backoff.due(now):
            self._connect()
        if self.open:
            try:
                for _ in range(MAX_MESSAGES):
                    if self.client.check_msg() is None:
                        break
                self.client.sock.settimeout(self.timeout)
                if self.keepalive and ticks_diff(now, self.pinged) >= self.keepalive * 500:
                    self.client.ping()
                    self.pinged = now
            except OSError as e:
                kind, why = self._why(e)
                self._down("the connection to %s was lost (%s)" % (self.where(), why), kind)
            except (AssertionError, IndexError):
                self._down("the connection to %s was lost (a broken packet)" % self.where(), "reset")
        return self.take()

    def close(self):
        """Disconnect cleanly."""
        if self.open:
            self.open = False
            self.connected = False
            try:
                self.client.disconnect()
            except OSError:
                pass
