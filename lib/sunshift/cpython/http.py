"""HTTP on CPython, from the standard library: keep-alive, TLS, a deadline per request.

The call shapes of both interpreters (see net/http.py):

    session = Session(insecure=False)
    status, headers, body = session.open("GET", url, headers, body, timeout)   # body.readinto, body.close
    status, headers, data = session.request("GET", url, headers, body, timeout)

``headers`` in the answer has lower-case names; ``body`` is bytes.  Every
failure raises TransportError with a kind (timeout, refused, reset, tls, dns,
protocol, network) and a sentence; nothing else escapes.

``timeout`` is a deadline for the whole request -- connect, send, the headers
and the body -- not for each read: a device that trickles its answer a byte a
second is cut off when the time is up (docs/architecture.md).  A body is read
to at most MAX_BODY bytes, however it is read.
"""

import http.client
import io
import socket
import ssl
import time
from urllib.parse import urlsplit

from ..errors import TransportError
from ..port import TIMEOUT
from ..stream import read_whole

AVAILABLE = True
# The largest body read; a device sending more is broken or not a device.
MAX_BODY = 4 * 1024 * 1024


def _tls_context(insecure):
    context = ssl.create_default_context()
    if insecure:
        # An explicit opt-in per device: Envoys with firmware 7+ serve a
        # self-signed certificate that no CA can vouch for.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _describe_tls(e):
    text = str(getattr(e, "reason", None) or e)
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(e, ssl.SSLCertVerificationError):
        return (
            "its certificate is not trusted (%s); for a device with a self-signed certificate, such as an Envoy "
            'with firmware 7+, set "insecure_tls": true in its config (--insecure with read)' % text
        )
    return "TLS failed (%s)" % text


def _failure(e, host, port, timeout):
    """The TransportError for what http.client, ssl or a socket raised."""
    if isinstance(e, TransportError):
        return e
    if isinstance(e, (TimeoutError, socket.timeout)):
        return TransportError("timeout", "no answer within %s s" % timeout)
    if isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        return TransportError("reset", "the connection was closed before the whole answer (%s)" % e.__class__.__name__)
    if isinstance(e, ConnectionRefusedError):
        return TransportError("refused", "connection refused (nothing listens on %s:%d)" % (host, port))
    if isinstance(e, ssl.SSLError):
        return TransportError("tls", _describe_tls(e))
    if isinstance(e, socket.gaierror):
        return TransportError("dns", "cannot find the host %s (%s)" % (host, e.strerror or e))
    if isinstance(e, http.client.HTTPException):
        return TransportError("protocol", "a broken HTTP answer (%s)" % e.__class__.__name__)
    if isinstance(e, OSError):
        return TransportError("network", "network error (%s)" % (e.strerror or e))
    raise e


def _left(deadline):
    """Seconds left until ``deadline`` (time.monotonic), socket.timeout when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout("deadline")
    return left


class _Timed:
    """A connected socket whose every send and receive ends by the request's
    ``deadline``: http.client reads a status line, a header or a chunk in many
    receives, and a timeout per receive lets a device that trickles its answer
    hold the caller for ever."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline

    def recv_into(self, buf, nbytes=0, flags=0):
        self.sock.settimeout(_left(self.deadline))
        return self.sock.recv_into(buf, nbytes, flags)

    def recv(self, size, flags=0):
        self.sock.settimeout(_left(self.deadline))
        return self.sock.recv(size, flags)

    def sendall(self, data, flags=0):
        self.sock.settimeout(_left(self.deadline))  # one timeout for the whole sendall (Python 3.5+)
        return self.sock.sendall(data, flags)

    def makefile(self, mode="rb", buffering=-1, **kwargs):
        # http.client reads its answer through this file: through recv_into above.
        return io.BufferedReader(socket.SocketIO(self, "rb"))

    def _decref_socketios(self):
        """SocketIO's close calls this; the socket itself is closed by close()."""

    def close(self):
        self.sock.close()

    def __getattr__(self, name):
        return getattr(self.sock, name)


class _Http(http.client.HTTPConnection):
    """A connection whose connect, and then every receive and send, ends by ``deadline``."""

    deadline = 0.0

    def connect(self):
        self.timeout = _left(self.deadline)
        http.client.HTTPConnection.connect(self)
        self.sock = _Timed(self.sock, self.deadline)


class _Https(http.client.HTTPSConnection):
    deadline = 0.0

    def connect(self):
        self.timeout = _left(self.deadline)
        http.client.HTTPConnection.connect(self)
        # The handshake is one call, and CPython's ssl keeps one deadline across all of it.
        self.sock.settimeout(_left(self.deadline))
        self.sock = _Timed(self._context.wrap_socket(self.sock, server_hostname=self.host), self.deadline)


class Body:
    """The body of one answer, read as it arrives; the connection stays open for
    the next call only when the body was read to its end."""

    def __init__(self, session, key, response, timeout):
        self.session = session
        self.key = key
        self.response = response
        self.timeout = timeout
        self.done = False
        self.left = MAX_BODY  # bytes it may still bring

    def readinto(self, buf):
        """Read into ``buf``; the bytes read, 0 at the end of the body.  An answer
        longer than MAX_BODY, or not whole by the request's deadline, is a TransportError."""
        if self.response is None:
            return 0
        try:
            got = self.response.readinto(buf)
        except Exception as e:
            self.session._drop(*self.key)
            raise _failure(e, self.key[1], self.key[2], self.timeout)
        if not got:
            self.done = True
        self.left -= got
        if self.left < 0:
            self.session._drop(*self.key)
            raise TransportError("protocol", "the answer is larger than %d bytes" % MAX_BODY)
        return got

    def close(self):
        """Done with the answer: keep the connection if it can serve the next call."""
        if self.response is None:
            return
        response = self.response
        self.response = None
        response.close()
        if not self.done or response.will_close:
            self.session._drop(*self.key)


class Session:
    """Keeps one connection per host open between calls (keep-alive)."""

    def __init__(self, insecure=False):
        self.insecure = insecure
        self.connections = {}
        self.context = None

    def _connection(self, scheme, host, port, deadline):
        key = (scheme, host, port)
        conn = self.connections.get(key)
        if conn is None:
            if scheme == "https":
                if self.context is None:
                    self.context = _tls_context(self.insecure)
                conn = _Https(host, port, context=self.context)
            else:
                conn = _Http(host, port)
            self.connections[key] = conn
            reused = False
        else:
            reused = conn.sock is not None
        conn.deadline = deadline
        if conn.sock is not None:
            conn.sock.deadline = deadline
        return conn, reused

    def _drop(self, scheme, host, port):
        conn = self.connections.pop((scheme, host, port), None)
        if conn is not None:
            conn.close()

    def open(self, method, url, headers=None, body=None, timeout=TIMEOUT):
        """Send one request; returns (status, headers with lower-case names, Body).
        The request, its answer's headers and its body must all come within ``timeout``."""
        deadline = time.monotonic() + timeout
        parts = urlsplit(url)
        scheme = parts.scheme
        if scheme not in ("http", "https") or not parts.hostname:
            raise TransportError("protocol", "not an http or https URL: %s" % url)
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        if isinstance(body, str):
            body = body.encode("utf-8")
        key = (scheme, host, port)
        # A kept-alive connection the device has closed fails on first use:
        # that one failure is retried once on a fresh connection.
        for attempt in (1, 2):
            conn, reused = self._connection(scheme, host, port, deadline)
            try:
                conn.request(method, path, body=body, headers=headers or {})
                response = conn.getresponse()
                answer = {}
                for name, value in response.getheaders():
                    answer[name.lower()] = value
                return response.status, answer, Body(self, key, response, timeout)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                self._drop(*key)
                if reused and attempt == 1:
                    continue
                raise TransportError("reset", "the connection was closed before an answer (%s)" % e.__class__.__name__)
            except Exception as e:
                self._drop(*key)
                raise _failure(e, host, port, timeout)
        raise TransportError("reset", "the connection was closed before an answer")

    def request(self, method, url, headers=None, body=None, timeout=TIMEOUT):
        """Send one request; returns (status, headers, body bytes), at most MAX_BODY of them."""
        status, answer, opened = self.open(method, url, headers, body, timeout)
        return status, answer, read_whole(opened, MAX_BODY)

    def close(self):
        """Close every open connection."""
        for key in list(self.connections):
            self._drop(*key)
