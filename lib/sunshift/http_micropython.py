"""HTTP on MicroPython, on micropython-lib's ``requests`` (or the older ``urequests``).

The same call shape as http_cpython:

    status, headers, body = Session(insecure).request(method, url, headers, body, timeout)

Differences a board owner should know: ``requests`` closes the connection after
each call (no keep-alive), and MicroPython's TLS does not verify certificates
at all, so ``insecure`` changes nothing here (an Envoy's self-signed
certificate works; nothing is checked either).
"""

import errno

from .errors import TransportError

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

_TIMEOUTS = (getattr(errno, "ETIMEDOUT", 110), 116, 11)  # 11: EAGAIN from a socket timeout
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

    def request(self, method, url, headers=None, body=None, timeout=5):
        """Send one request; returns (status, headers with lower-case names, body bytes)."""
        response = None
        try:
            response = requests.request(method, url, data=body, headers=headers or {}, timeout=timeout)
            data = response.raw.read(MAX_BODY + 1) if response.raw else b""
            if len(data) > MAX_BODY:
                raise TransportError("protocol", "the answer is larger than %d bytes" % MAX_BODY)
            answer = {}
            for name in getattr(response, "headers", None) or {}:
                key = name.decode() if isinstance(name, bytes) else name
                value = response.headers[name]
                answer[key.lower()] = value.decode() if isinstance(value, bytes) else value
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

    def close(self):
        """Nothing is kept open between calls on a board."""
