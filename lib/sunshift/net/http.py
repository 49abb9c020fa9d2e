"""HTTP on MicroPython, on micropython-lib's ``requests`` (or the older ``urequests``).

The same call shapes as cpython/http.py:

    status, headers, body = Session(insecure).open(method, url, headers, body, timeout)
    ... body.readinto(buffer) ... body.close()          # the body as it arrives
    status, headers, data = Session(insecure).request(method, url, headers, body, timeout)

Differences a board owner should know: ``requests`` closes the connection after
each call (no keep-alive), and MicroPython's TLS does not verify certificates
at all, so ``insecure`` changes nothing here (an Envoy's self-signed
certificate works; nothing is checked either).
"""

import errno

from ..errors import TransportError
from ..port import TIMEOUT
from ..stream import read_whole

try:
    import requests
except ImportError:
    try:
        import urequests as requests
    except ImportError:
        requests = None

AVAILABLE = requests is not None
# The largest body read into memory on a board.
MAX_BODY = 32 * 1024

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


class Body:
    """The body of one answer, read as it arrives: at most ``length`` bytes when
    the device said how many, never past the end of the connection.  requests
    0.10 hands out the socket itself, 1.1 a stream of its own; reads come back
    as a count, so its bytearrays never reach sunshift."""

    def __init__(self, response, length, timeout, url):
        self.response = response
        self.raw = response.raw
        self.length = length
        self.left = length  # None: read to the end of the connection
        self.timeout = timeout
        self.url = url

    def readinto(self, buf):
        """Read into ``buf``; the bytes read, 0 at the end of the body."""
        if self.left == 0 or self.raw is None:
            return 0
        view = memoryview(buf)
        if self.left is not None and len(view) > self.left:
            view = view[: self.left]
        try:
            got = self.raw.readinto(view)
        except OSError as e:
            raise _oserror(e, self.timeout, self.url)
        except ValueError:  # requests 1.1: "Connection closed before body complete"
            got = 0
        if not got:
            if self.left:
                raise TransportError("reset", "the connection was closed after %d of %d bytes" % (self.length - self.left, self.length))
            self.left = 0
            return 0
        if self.left is not None:
            self.left -= got
        return got

    def close(self):
        """Close the connection (requests keeps none open)."""
        if self.response is not None:
            self.response.close()
            self.response = None


class Session:
    """One device's HTTP calls on a board."""

    def __init__(self, insecure=False):
        self.insecure = insecure

    def open(self, method, url, headers=None, body=None, timeout=TIMEOUT):
        """Send one request; returns (status, headers with lower-case names, Body)."""
        response = None
        try:
            # A copy: requests from before April 2025 (MicroPython 1.24's) adds Host and Content-Length to the caller's dict.
            response = requests.request(method, url, data=body, headers=dict(headers) if headers else {}, timeout=timeout)
            answer = {}
            for name in getattr(response, "headers", None) or {}:
                key = name.decode() if isinstance(name, bytes) else name
                value = response.headers[name]
                answer[key.lower()] = value.decode() if isinstance(value, bytes) else value
            length = answer.get("content-length")
            if length is not None:
                try:
                    length = int(length)
                except ValueError:
                    raise TransportError("protocol", "a broken HTTP answer (Content-Length %r)" % length)
            status = response.status_code
            opened = Body(response, length, timeout, url)
            response = None  # the Body closes it now
            return status, answer, opened
        except TransportError:
            raise
        except OSError as e:
            raise _oserror(e, timeout, url)
        except NotImplementedError:
            # requests refuses a Location header on anything but a redirect.
            raise TransportError("protocol", "an answer with an unexpected Location header")
        except (ValueError, IndexError) as e:
            raise TransportError("protocol", "a broken HTTP answer (%s)" % e)
        finally:
            if response is not None:
                response.close()

    def request(self, method, url, headers=None, body=None, timeout=TIMEOUT):
        """Send one request; returns (status, headers, body bytes), at most MAX_BODY of them."""
        status, answer, opened = self.open(method, url, headers, body, timeout)
        if opened.length is not None and opened.length > MAX_BODY:
            opened.close()
            raise TransportError("protocol", "the answer is larger than %d bytes (Content-Length %d)" % (MAX_BODY, opened.length))
        return status, answer, read_whole(opened, MAX_BODY)

    def close(self):
        """Nothing is kept open between calls on a board."""
