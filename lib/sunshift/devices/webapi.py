"""A device's HTTP API: base URL, token, timeout, and errors that name the device.

Adapters call ``get_json``/``call``; every failure comes back as a DeviceError
whose message names the device and the endpoint and says what to do, never as
a raw socket or JSON exception.  Tokens go in the Authorization header and
never into a message.  ``get_json`` reads the JSON as the answer arrives
(jsonpick.load), so a board never holds a device's answer whole.
"""

from .. import jsonpick, port
from ..errors import DeviceError, TransportError
from ..stream import read_all

# What of an error answer is read, to say what it was.
ERROR_BODY = 512


class WebApi:
    """HTTP calls to one device at ``base_url`` (e.g. "https://192.168.1.20")."""

    def __init__(self, device, base_url, token=None, insecure=False, timeout=port.TIMEOUT, auth_hint=None, session=None):
        self.device = device
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.auth_hint = auth_hint or "check the token in the secrets file"
        self.session = session or port.backend("http").Session(insecure)

    def headers(self, extra=None):
        """Request headers: the bearer token when there is one, plus ``extra``."""
        out = {"Accept": "application/json"}
        if self.token:
            out["Authorization"] = "Bearer " + self.token
        if extra:
            for name in extra:
                out[name] = extra[name]
        return out

    def call(self, method, path, body=None, headers=None):
        """(status, headers, body) of one call; transport failures raise DeviceError."""
        try:
            return self.session.request(method, self.base_url + path, self.headers(headers), body, self.timeout)
        except TransportError as e:
            raise DeviceError(self.device, "%s %s" % (method, path), str(e), e.kind)

    def check_status(self, method, path, status, body):
        """Raise DeviceError for an HTTP status that is not success."""
        if 200 <= status < 300:
            return
        where = "%s %s" % (method, path)
        if status in (401, 403):
            raise DeviceError(self.device, where, "token rejected or expired (HTTP %d); %s" % (status, self.auth_hint), "auth")
        if status == 404:
            raise DeviceError(self.device, where, "not found (HTTP 404)", "missing")
        if status >= 500:
            raise DeviceError(self.device, where, "the device failed (HTTP %d)" % status, "server")
        raise DeviceError(self.device, where, "unexpected HTTP %d: %s" % (status, jsonpick.describe_body(body)), "status")

    def open(self, method, path, body=None, headers=None):
        """(status, headers, the answer's body as it arrives) of one call; close the body after."""
        try:
            return self.session.open(method, self.base_url + path, self.headers(headers), body, self.timeout)
        except TransportError as e:
            raise DeviceError(self.device, "%s %s" % (method, path), str(e), e.kind)

    def get_json(self, path, keep=None, each=None):
        """GET ``path`` and parse its JSON as it arrives (keeping only the keys in
        ``keep``; each object in an array to ``each``, if given: jsonpick.load)."""
        status, _, body = self.open("GET", path)
        try:
            if not 200 <= status < 300:
                self.check_status("GET", path, status, self.read_body(body, "GET", path))
            return self.load("GET", path, body, keep, each)
        finally:
            body.close()

    def read_body(self, body, method, path):
        """The start (ERROR_BODY bytes) of an answer's body, to say what an error was."""
        try:
            return read_all(body, ERROR_BODY)
        except TransportError as e:
            raise DeviceError(self.device, "%s %s" % (method, path), str(e), e.kind)

    def load(self, method, path, body, keep=None, each=None):
        """JSON of an answer, read from its body as it arrives (or from the bytes
        already read), or a DeviceError saying what went wrong."""
        try:
            if isinstance(body, (bytes, bytearray, str)):
                return jsonpick.loads(body, keep, False, each)
            return jsonpick.load(body, keep, each)
        except jsonpick.JsonError as e:
            raise DeviceError(self.device, "%s %s" % (method, path), "bad answer: %s" % e, "body")
        except TransportError as e:
            raise DeviceError(self.device, "%s %s" % (method, path), str(e), e.kind)

    parse = load  # for answers already read (bytes): what the adapters' writes get back

    def close(self):
        """Close kept-alive connections."""
        self.session.close()
