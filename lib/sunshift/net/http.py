"""HTTP on MicroPython: a small HTTP/1.0 client on the ``socket`` and ``tls`` modules,
with one deadline for the whole request.

The same call shapes as cpython/http.py:

    status, headers, body = Session(insecure).open(method, url, headers, body, timeout)
    ... body.readinto(buffer) ... body.close()          # the body as it arrives
    status, headers, data = Session(insecure).request(method, url, headers, body, timeout)

``timeout`` bounds the whole request -- connect, send, status line, headers and
body -- not each read: before every read the socket's timeout is set to what is
left, and every read takes what has arrived (``recv``), so a device that
trickles its answer a byte a second costs its timeout and no more.  That is why
this is not micropython-lib's ``requests``: it reads the status line and the
headers a byte at a time with the whole timeout for each byte, so such a device
held a board for as long as it trickled.  Over TLS the deadline is checked
between the TLS records the device sends, and the handshake has the time left
for each of its reads.

Differences a board owner should know: the connection is closed after each
call (no keep-alive), an answer is asked for in HTTP/1.0 (so none comes
chunked), and MicroPython's TLS does not verify certificates at all, so
``insecure`` changes nothing here (an Envoy's self-signed certificate works;
nothing is checked either).
"""

import errno

from .. import port
from ..errors import TransportError
from ..port import TIMEOUT, const
from ..stream import read_whole

try:
    import socket
except ImportError:
    socket = None

AVAILABLE = socket is not None and hasattr(socket, "getaddrinfo")
# The largest body read into memory on a board (request()).
MAX_BODY = const(32 * 1024)
# The most a body read as it arrives (jsonpick) may bring: an answer without end is cut here.
MAX_STREAM = const(512 * 1024)
# The status line and headers together; a device's are a few hundred bytes.
MAX_HEAD = const(4096)
# Bytes asked of the socket at a time for the status line and headers.
PIECE = const(256)
# The clock of the deadlines (a test's stand-in replaces it).
clock = port.ticks_ms

# A socket timeout is ETIMEDOUT on ESP32 (116 in lwIP's numbering) and EAGAIN on the unix and
# WebAssembly ports; each port's errno module has its own numbers, so ask it first.
_TIMEOUTS = (getattr(errno, "ETIMEDOUT", 110), getattr(errno, "EAGAIN", 11), 116, 11)
_REFUSED = (getattr(errno, "ECONNREFUSED", 111),)
_RESET = (getattr(errno, "ECONNRESET", 104), getattr(errno, "ECONNABORTED", 103), getattr(errno, "ENOTCONN", 128))


def _oserror(e, timeout, url):
    code = e.args[0] if e.args else 0
    if code in _TIMEOUTS:
        return TransportError("timeout", "no answer within %s s" % timeout)
    if code in _REFUSED:
        return TransportError("refused", "connection refused")
    if code in _RESET:
        return TransportError("reset", "the connection was closed before an answer")
    if code == -2 or code == -202:  # getaddrinfo failures on ESP32 builds
        return TransportError("dns", "cannot find the host of %s" % url)
    return TransportError("network", "network error (errno %s)" % code)


def split_url(url):
    """(https?, host, port, path with query) of an http or https URL, or TransportError."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise TransportError("protocol", "not an http or https URL: %s" % url)
    host, slash, path = rest.partition("/")
    secure = scheme == "https"
    port = 443 if secure else 80
    if ":" in host:
        host, _, digits = host.partition(":")
        try:
            port = int(digits)
        except ValueError:
            raise TransportError("protocol", "not a port number in %s" % url)
    if not host:
        raise TransportError("protocol", "no host in %s" % url)
    return secure, host, port, slash + path if slash else "/"


def _tls(sock, host):
    """``sock`` wrapped in TLS for ``host`` (the name sent; the certificate is not checked)."""
    try:
        import tls

        context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        context.verify_mode = tls.CERT_NONE
        return context.wrap_socket(sock, server_hostname=host)
    except ImportError:  # firmware before MicroPython 1.23 has ssl only
        import ssl

        return ssl.wrap_socket(sock, server_hostname=host)


class Exchange:
    """One request's connection: the stream (a socket, or TLS over it), the
    socket its timeouts are set on, the deadline, and what arrived past the headers."""

    def __init__(self, sock, timeout, url):
        self.raw = sock
        self.stream = sock
        self.timeout = timeout
        self.url = url
        self.deadline = port.ticks_add(clock(), int(timeout * 1000))
        self.rest = b""  # the body's first bytes, read with the headers

    def left(self):
        """Seconds to the deadline (TransportError when there are none): the socket's
        timeout for the next call."""
        ms = port.ticks_diff(self.deadline, clock())
        if ms <= 0:
            raise TransportError("timeout", "no answer within %s s" % self.timeout)
        self.raw.settimeout(ms / 1000)
        return ms

    def send(self, data):
        """Send ``data`` whole (a request is small: one write in practice)."""
        self.left()
        self.stream.write(data)

    def recv(self, size):
        """What has arrived, up to ``size`` bytes, once something has; b"" at the end."""
        self.left()
        data = self.stream.recv(size)
        return b"" if data is None else data

    def head(self):
        """(status, {lower-case name: value}) of the answer; the body's start stays in ``rest``."""
        got = b""
        while True:
            end = got.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(got) > MAX_HEAD:
                raise TransportError("protocol", "an answer whose headers are longer than %d bytes" % MAX_HEAD)
            piece = self.recv(PIECE)
            if not piece:
                raise TransportError("reset", "the connection was closed before %s" % ("an answer" if not got else "the end of the headers"))
            got += piece
        self.rest = got[end + 4 :]
        lines = got[:end].split(b"\r\n")
        first = lines[0].split(None, 2)
        if len(first) < 2 or not first[0].startswith(b"HTTP/") or not first[1].isdigit():
            raise TransportError("protocol", "a broken HTTP answer (no status line)")
        answer = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if colon:
                try:
                    answer[name.decode().strip().lower()] = value.decode().strip()
                except UnicodeError:
                    pass  # a header that is not text is not one we read
        return int(first[1]), answer

    def close(self):
        """Close the stream and the socket under it."""
        for part in (self.stream, self.raw):
            try:
                part.close()
            except OSError:
                pass


class Body:
    """The body of one answer, read as it arrives: at most ``length`` bytes when
    the device said how many, never past the end of the connection, never more
    than MAX_STREAM, and not after the request's deadline."""

    def __init__(self, exchange, length):
        self.exchange = exchange
        self.length = length
        self.left = length  # None: read to the end of the connection
        self.got = 0

    def readinto(self, buf):
        """Read into ``buf``; the bytes read, 0 at the end of the body."""
        exchange = self.exchange
        if self.left == 0 or exchange is None:
            return 0
        size = len(buf) if self.left is None else min(len(buf), self.left)
        if exchange.rest:
            piece = exchange.rest[:size]
            exchange.rest = exchange.rest[size:]
        else:
            try:
                piece = exchange.recv(size)
            except OSError as e:
                raise _oserror(e, exchange.timeout, exchange.url)
        got = len(piece)
        if not got:
            if self.left:
                raise TransportError("reset", "the connection was closed after %d of %d bytes" % (self.length - self.left, self.length))
            self.left = 0
            return 0
        buf[:got] = piece
        self.got += got
        if self.got > MAX_STREAM:
            raise TransportError("protocol", "the answer is larger than %d bytes" % MAX_STREAM)
        if self.left is not None:
            self.left -= got
        return got

    def close(self):
        """Close the connection (none is kept open)."""
        if self.exchange is not None:
            self.exchange.close()
            self.exchange = None


class Session:
    """One device's HTTP calls on a board."""

    def __init__(self, insecure=False):
        self.insecure = insecure

    def open(self, method, url, headers=None, body=None, timeout=TIMEOUT):
        """Send one request; returns (status, headers with lower-case names, Body).
        The request, its answer's headers and its body must all come within ``timeout``."""
        secure, host, number, path = split_url(url)
        if isinstance(body, str):
            body = body.encode()
        exchange = None
        try:
            address = socket.getaddrinfo(host, number, 0, socket.SOCK_STREAM)[0]
            exchange = Exchange(socket.socket(address[0], socket.SOCK_STREAM, address[2]), timeout, url)
            exchange.left()
            exchange.raw.connect(address[-1])
            if secure:
                exchange.left()
                exchange.stream = _tls(exchange.raw, host)
            exchange.send(_request(method, path, host, number, secure, headers, body))
            status, answer = exchange.head()
            if "chunked" in answer.get("transfer-encoding", ""):
                raise TransportError("protocol", "a chunked answer to an HTTP/1.0 request")
            length = answer.get("content-length")
            if length is not None:
                if not length.isdigit():
                    raise TransportError("protocol", "a broken HTTP answer (Content-Length %r)" % length)
                length = int(length)
            opened = Body(exchange, length)
            exchange = None  # the Body closes it now
            return status, answer, opened
        except OSError as e:
            raise _oserror(e, timeout, url)
        finally:
            if exchange is not None:
                exchange.close()

    def request(self, method, url, headers=None, body=None, timeout=TIMEOUT):
        """Send one request; returns (status, headers, body bytes), at most MAX_BODY of them."""
        status, answer, opened = self.open(method, url, headers, body, timeout)
        if opened.length is not None and opened.length > MAX_BODY:
            opened.close()
            raise TransportError("protocol", "the answer is larger than %d bytes (Content-Length %d)" % (MAX_BODY, opened.length))
        return status, answer, read_whole(opened, MAX_BODY)

    def close(self):
        """Nothing is kept open between calls on a board."""


def _request(method, path, host, number, secure, headers, body):
    """The bytes of a request: its line, Host, the caller's headers, Content-Length, the body."""
    if number != (443 if secure else 80):
        host = "%s:%d" % (host, number)
    lines = ["%s %s HTTP/1.0\r\nHost: %s\r\n" % (method, path, host)]
    for name in headers or ():
        lines.append("%s: %s\r\n" % (name, headers[name]))
    if body:
        lines.append("Content-Length: %d\r\n" % len(body))
    lines.append("\r\n")
    data = "".join(lines).encode()
    return data + body if body else data
