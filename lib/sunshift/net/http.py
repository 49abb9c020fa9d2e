"""HTTP on MicroPython, on micropython-lib's ``requests`` (or the older ``urequests``).

The same call shape as cpython/http.py:

    status, headers, body = Session(insecure).request(method, url, headers, body, timeout)

Differences a board owner should know: ``requests`` closes the connection after
each call (no keep-alive), and MicroPython's TLS does not verify certificates
at all, so ``insecure`` changes nothing here (an Envoy's self-signed
certificate works; nothing is checked either).
"""

import errno

from ..errors import TransportError
from ..port import TIMEOUT

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


class Session:
    """One device's HTTP calls on a board."""

    def __init__(self, insecure=False):
        self.insecure = insecure

    def request(self, method, url, headers=None, body=None, timeout=TIMEOUT):
        """Send one request; returns (status, headers with lower-case names, body bytes)."""
        response = None
        try:
            # A copy: requests from before April 2025 (MicroPython 1.24's) adds Host and Content-Length to the caller's dict.
            response = requests.request(method, url, data=body, headers=dict(headers) if headers else {}, timeout=timeout)
            answer = {}
            for name in getattr(response, "headers", None) or {}:
                key = name.decode() if isinstance(name, bytes) else name
                value = response.headers[name]
                answer[key.lower()] = value.decode() if isinstance(value, bytes) else value
            data = self._body(response, answer.get("content-length"))
            return response.status_code, answer, data
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

    def _body(self, response, length):
        """The body, at most MAX_BODY bytes.  requests 0.10 reads to the end of the
        stream whatever Content-Length says, so a short body (the device closed early)
        is caught here rather than handed on as a truncated document."""
        if not response.raw:
            return b""
        if length is not None:
            try:
                length = int(length)
            except ValueError:
                raise TransportError("protocol", "a broken HTTP answer (Content-Length %r)" % length)
            if length > MAX_BODY:
                raise TransportError("protocol", "the answer is larger than %d bytes (Content-Length %d)" % (MAX_BODY, length))
            data = response.raw.read(length) if length else b""
            if len(data) < length:
                raise TransportError("reset", "the connection was closed after %d of %d bytes" % (len(data), length))
            return data
        data = response.raw.read(MAX_BODY + 1)
        if len(data) > MAX_BODY:
            raise TransportError("protocol", "the answer is larger than %d bytes" % MAX_BODY)
        return data

    def close(self):
        """Nothing is kept open between calls on a board."""
