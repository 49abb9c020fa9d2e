"""HTTP sessions without sockets, for the portable tests (MicroPython has no sockets here).

``ReplaySession`` answers from the Envoy capture corpus exactly as the Envoy
simulator does over HTTP; ``ScriptedSession`` answers from functions a test
gives it.  Both have the backends' call shapes: open(method, url, headers,
body, timeout) -> (status, headers, a body read as it arrives), and request()
-> (status, headers, body bytes).
"""

import sys

from support import ROOT

if ROOT + "/tools" not in sys.path:
    sys.path.insert(0, ROOT + "/tools")

from simulators import corpus

from sunshift.errors import TransportError
from sunshift.stream import Bytes

NGINX_401 = b"<html><head><title>401 Authorization Required</title></head><body><h1>401 Authorization Required</h1></body></html>"


def _path(url):
    rest = url.split("://", 1)[1]
    slash = rest.find("/")
    return "/" if slash < 0 else rest[slash:]


class ReplaySession:
    """An Envoy variant, replayed.  Firmware 7+ wants the bearer ``token`` (except /info)."""

    def __init__(self, variant, token="test-envoy-token", hide=(), details_file="production.json"):
        self.variant = variant
        self.token = token if corpus.firmware(variant) >= 7 else None
        self.hide = hide
        self.details_file = details_file
        self.requests = []
        self.fault = None

    def request(self, method, url, headers=None, body=None, timeout=5):
        path = _path(url)
        self.requests.append((method, path))
        if self.fault is not None:
            raise TransportError(self.fault, "scripted %s" % self.fault)
        auth = (headers or {}).get("Authorization", "")
        if self.token and path != "/info" and auth != "Bearer " + self.token:
            return 401, {"content-type": "text/html"}, NGINX_401
        status, kind, data = corpus.answer(self.variant, path, self.hide, self.details_file)
        return status, {"content-type": kind}, data

    def open(self, method, url, headers=None, body=None, timeout=5):
        status, answer, data = self.request(method, url, headers, body, timeout)
        return status, answer, Bytes(data)

    def close(self):
        pass


class ScriptedSession:
    """Answers with ``handler(method, path, body)`` -> (status, body bytes)."""

    def __init__(self, handler):
        self.handler = handler
        self.requests = []
        self.fault = None

    def request(self, method, url, headers=None, body=None, timeout=5):
        path = _path(url)
        self.requests.append((method, path, body))
        if self.fault is not None:
            raise TransportError(self.fault, "scripted %s" % self.fault)
        status, data = self.handler(method, path, body)
        return status, {}, data

    def open(self, method, url, headers=None, body=None, timeout=5):
        status, answer, data = self.request(method, url, headers, body, timeout)
        return status, answer, Bytes(data)

    def close(self):
        pass
