"""Scripted sockets for the MicroPython backends: stand-ins for the ``socket`` and
``tls`` modules that replay one exchange per connection, byte for byte, under
sunshift's HTTP client and the real micropython-lib MQTT client
(tests/vendor/micropython-lib).

The sockets behave like an ESP32's: ``read(n)`` waits for n bytes or the end of the
stream, a read that finds nothing raises OSError(ETIMEDOUT) when a timeout is set,
returns None when non-blocking, and -- with no timeout at all -- would block for
ever, which here raises ``Hang`` so a test fails instead of the board freezing.

Importing this module puts the vendored libraries on sys.path and the stand-ins in
sys.modules, and makes sunshift's backends find them afresh.
"""

import errno
import sys

HERE = __file__.rsplit("/", 1)[0]
VENDOR = HERE.rsplit("/", 1)[0] + "/vendor/micropython-lib"

STALL = "stall"  # the peer sends nothing more, the connection stays open
EOF_ = "eof"  # the peer closed the connection: reads return b""
# The clock the HTTP backend's deadlines run on here (milliseconds): Wait steps move it.
NOW = [0]


def clock():
    """The scripted connections' clock, in ms (for sunshift.net.http.clock)."""
    return NOW[0]


class Wait:
    """A step: the peer sends nothing for ``ms`` milliseconds.  A read whose
    timeout is shorter fails with ETIMEDOUT when its timeout has passed."""

    def __init__(self, ms):
        self.ms = ms


def trickle(data, every_ms):
    """The steps of a peer that sends ``data`` one byte every ``every_ms``."""
    steps = []
    for k in range(len(data)):
        steps.append(Wait(every_ms))
        steps.append(data[k : k + 1])
    return steps


class Hang(Exception):
    """A read on a socket without a timeout that nothing will ever answer."""


class Conn:
    """One scripted TCP connection: what the peer sends, step by step, and all we sent.

    Steps: bytes (one arrival), Wait(ms), STALL, EOF_, or an errno (the read fails with it).
    """

    def __init__(self, *steps, refuse=False):
        self.steps = list(steps)
        self.buffer = b""
        self.sent = b""
        self.timeout = None
        self.timeouts = []  # the timeout in force at each read that had to wait
        self.address = None
        self.closed = False
        self.refuse = refuse

    # -- the socket API used by sunshift's HTTP client and umqtt.simple
    def settimeout(self, seconds):
        self.timeout = seconds

    def setblocking(self, flag):
        self.timeout = None if flag else 0

    def connect(self, address):
        self.address = address
        if self.refuse:
            raise OSError(errno.ECONNREFUSED)

    def write(self, data, length=None):
        if self.closed:
            raise OSError(errno.EBADF)
        if isinstance(data, str):
            data = data.encode()
        data = bytes(data if length is None else data[:length])
        self.sent += data
        return len(data)

    def _arrive(self):
        """Wait for the next step; False at the end of the stream."""
        step = self.steps[0] if self.steps else STALL
        self.timeouts.append(self.timeout)
        if isinstance(step, Wait):
            if self.timeout is not None and self.timeout * 1000 < step.ms:
                NOW[0] += int(self.timeout * 1000)
                step.ms -= int(self.timeout * 1000)
                raise OSError(errno.ETIMEDOUT)
            NOW[0] += step.ms
            self.steps.pop(0)
            return self._arrive()
        if isinstance(step, bytes):
            self.steps.pop(0)
            self.buffer += step
            return True
        if step == EOF_:
            return False
        if isinstance(step, int):
            self.steps.pop(0)
            raise OSError(step)
        if self.timeout == 0:
            return None
        if self.timeout is None:
            raise Hang("a read with no timeout on a silent connection: the board would hang here")
        raise OSError(errno.ETIMEDOUT)

    def read(self, size=-1):
        if self.closed:
            raise OSError(errno.EBADF)
        while size < 0 or len(self.buffer) < size:
            got = self._arrive()
            if got is None:
                if self.buffer:
                    break
                return None
            if not got:
                break
        if size < 0:
            size = len(self.buffer)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readinto(self, buf, size=None):
        """As a MicroPython stream: fills ``buf`` (or its first ``size`` bytes) unless the stream ends first."""
        data = self.read(len(buf) if size is None else size)
        if data is None:
            return None
        buf[: len(data)] = data
        return len(data)

    def recv(self, size):
        """As a socket's recv: what has arrived (waiting for the next arrival if nothing has), b"" at the end."""
        if self.closed:
            raise OSError(errno.EBADF)
        if not self.buffer:
            got = self._arrive()
            if got is None:
                return None
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readline(self):
        while b"\n" not in self.buffer:
            if not self._arrive():
                break
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line

    def close(self):
        self.closed = True

    # -- for the tests
    def take_sent(self):
        """What we sent since the last call."""
        sent, self.sent = self.sent, b""
        return sent

    def finished(self):
        """True when every scripted arrival was read."""
        return not [s for s in self.steps if isinstance(s, bytes)] and not self.buffer


class Network:
    """Stands in for the ``socket`` module: each socket() is the next scripted connection."""

    AF_INET = 2
    SOCK_STREAM = 1

    def __init__(self):
        self.queue = []
        self.lookups = []

    def expect(self, *conns):
        """The next connections, in order."""
        self.queue.extend(conns)

    def getaddrinfo(self, host, port, family=0, kind=0, proto=0, flags=0):
        self.lookups.append((host, port))
        return [(self.AF_INET, self.SOCK_STREAM, 0, "", (host, port))]

    def socket(self, family=2, kind=1, proto=0):
        if not self.queue:
            raise AssertionError("an unexpected connection")
        return self.queue.pop(0)

    def idle(self):
        """True when every expected connection was made."""
        return not self.queue


class TlsStream:
    """What tls.SSLContext.wrap_socket returns: the application data, in the clear."""

    def __init__(self, conn, server_hostname, verify_mode):
        self.conn = conn
        self.server_hostname = server_hostname
        self.verify_mode = verify_mode
        self.sent = b""

    def write(self, data, length=None):
        data = data.encode() if isinstance(data, str) else bytes(data if length is None else data[:length])
        self.sent += data
        return self.conn.write(data)

    def read(self, size=-1):
        return self.conn.read(size)

    def readinto(self, buf, size=None):
        return self.conn.readinto(buf, size)

    def recv(self, size):
        return self.conn.recv(size)

    def readline(self):
        return self.conn.readline()

    def close(self):
        self.conn.close()


class Tls:
    """Stands in for MicroPython's ``tls`` module (what sunshift's HTTP client imports for https)."""

    PROTOCOL_TLS_CLIENT = 0
    CERT_NONE = 0
    CERT_REQUIRED = 2

    def __init__(self):
        self.streams = []

    def SSLContext(self, protocol):
        return _Context(self, protocol)


class _Context:
    def __init__(self, tls, protocol):
        self.tls = tls
        self.protocol = protocol
        self.verify_mode = Tls.CERT_REQUIRED  # MicroPython's default for a client context

    def wrap_socket(self, sock, server_side=False, server_hostname=None):
        stream = TlsStream(sock, server_hostname, self.verify_mode)
        self.tls.streams.append(stream)
        return stream


NET = Network()
TLS = Tls()


def mqtt_str(text):
    """An MQTT UTF-8 string: two length bytes, then the bytes."""
    data = text.encode() if isinstance(text, str) else text
    return bytes((len(data) >> 8, len(data) & 0xFF)) + data


def http_request(raw):
    """(request line, {header: value}, body) of what an HTTP client sent."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        headers[name] = value
    return lines[0], headers, body


if sys.implementation.name == "micropython":
    sys.modules["socket"] = NET
    sys.modules["tls"] = TLS
    if VENDOR not in sys.path:
        sys.path.insert(0, VENDOR)
    # An earlier suite may have imported the backends without the libraries: forget them.
    import sunshift.net

    for _name in ("http", "mqtt"):
        sys.modules.pop("sunshift.net." + _name, None)
        if hasattr(sunshift.net, _name):
            delattr(sunshift.net, _name)
