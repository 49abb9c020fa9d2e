"""The site config (devices, hosts, polling, staleness) and the secrets file.

Both are JSON; lines starting with `//` are comments (the shipped example is
commented).  Tokens and passwords live only in the secrets file: a config
that holds one is refused, so it can be shared or pasted into a forum safely.
docs/config.md documents every key.
"""

from . import jsonpick, lexer, port
from .errors import ModuleMissing, SunshiftError

DEVICE_TYPES = ("envoy", "evcc", "emsesp", "enode")
SECRET_KEYS = ("token", "password", "secret", "api_key", "apikey", "client_secret")
TOP_KEYS = ("rules", "timezone", "stale_after", "mqtt", "devices", "log_level")
MQTT_KEYS = ("host", "port", "username", "client_id", "keepalive", "status_topic")
# The keys of the local devices.  A cloud adapter (Enode) checks its own entry
# with its own table (enode.configure): a board deployed without that adapter
# does not carry them either.
DEVICE_KEYS = {
    "envoy": ("type", "url", "insecure_tls", "poll", "timeout", "stale_after"),
    "evcc": ("type", "url", "transport", "topic", "poll", "timeout", "stale_after"),
    "emsesp": ("type", "url", "transport", "base", "devices", "entities", "poll", "timeout", "stale_after"),
}
DEFAULT_POLL = {"envoy": 5, "evcc": 5, "emsesp": 10}
# The board's Wi-Fi, in the secrets file: {"wifi": {"ssid": "...", "password": "..."}}.
WIFI_KEYS = ("ssid", "password")


class ConfigError(SunshiftError):
    """A config or secrets file that cannot be used; the message names file and key."""


def strip_comments(text):
    """The text with `//` comment lines blanked (line numbers stay right)."""
    lines = text.split("\n")
    for k, line in enumerate(lines):
        if line.strip().startswith("//"):
            lines[k] = ""
    return "\n".join(lines)


def _position(text, offset):
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    return line, offset - start + 1


def read_json(path, what):
    """The JSON object in ``path`` (comments allowed), or ConfigError naming the place."""
    try:
        raw = port.read_bytes(path)
    except OSError:
        raise ConfigError("%s: cannot read the %s file (does it exist?)" % (path, what))
    try:
        text = strip_comments(raw.decode("utf-8"))
    except UnicodeError:
        raise ConfigError("%s: the %s file is not UTF-8 text" % (path, what))
    try:
        data = jsonpick.loads(text)
    except jsonpick.JsonError as e:
        message = str(e)
        at = message.rfind("at byte ")
        if at >= 0:
            digits = message[at + 8 :].split(" ")[0]
            if digits.isdigit():
                line, col = _position(text, int(digits))
                raise ConfigError("%s:%d:%d: %s" % (path, line, col, message[:at].strip()))
        raise ConfigError("%s: %s" % (path, message))
    if not isinstance(data, dict):
        raise ConfigError("%s: the %s file must hold a JSON object { ... }" % (path, what))
    return data


def seconds(path, where, value):
    """A duration from the config: a number of seconds or a text like "2m"."""
    if isinstance(value, str):
        parsed = lexer.read_duration(value)
        if parsed is None:
            raise ConfigError('%s: %s: %r is not a duration (a number of seconds, or "90s", "5m")' % (path, where, value))
        return parsed
    if type(value) is bool or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError("%s: %s: %r is not a duration above zero" % (path, where, value))
    return value


def _check_keys(path, where, data, allowed):
    for key in data:
        low = key.lower()
        if low in SECRET_KEYS:
            raise ConfigError("%s: %s.%s: secrets go in the secrets file, not in the config (see docs/config.md)" % (path, where, key))
        if key not in allowed:
            raise ConfigError("%s: %s: unknown key %r (known: %s)" % (path, where, key, ", ".join(allowed)))


class Site:
    """A checked site config plus its secrets."""

    def __init__(self, data, secrets, path="site.json", secrets_path="secrets.json"):
        self.path = path
        _check_keys(path, "the top level", data, TOP_KEYS)
        self.rules = data.get("rules", "rules")
        if isinstance(self.rules, str):
            self.rules = [self.rules]
        self.timezone = data.get("timezone", "local")
        self.stale_after = seconds(path, "stale_after", data.get("stale_after", 120))
        self.log_level = data.get("log_level", "info")
        self.mqtt = None
        mqtt = data.get("mqtt")
        if mqtt is not None:
            if not isinstance(mqtt, dict) or "host" not in mqtt:
                raise ConfigError('%s: mqtt: needs at least {"host": "..."}' % path)
            _check_keys(path, "mqtt", mqtt, MQTT_KEYS)
            self.mqtt = dict(mqtt)
            self.mqtt["password"] = secret(secrets, "mqtt", "password")
        devices = data.get("devices")
        if not isinstance(devices, dict) or not devices:
            raise ConfigError('%s: devices: list at least one device, like "envoy": {"type": "envoy", "url": "https://..."}' % path)
        self.devices = {}
        for name in devices:
            self.devices[name] = self._device(name, devices[name], secrets)

    def _device(self, name, spec, secrets):
        where = "devices." + name
        if "." in name or not name:
            raise ConfigError("%s: %s: a device name has no dots (it is the first part of signal names)" % (self.path, where))
        if not isinstance(spec, dict):
            raise ConfigError("%s: %s: must be an object" % (self.path, where))
        kind = spec.get("type", name if name in DEVICE_TYPES else None)
        if kind not in DEVICE_TYPES:
            raise ConfigError("%s: %s: unknown type %r (one of %s)" % (self.path, where, kind, ", ".join(DEVICE_TYPES)))
        if kind == "enode":
            try:
                from .enode import configure
            except ImportError as e:
                raise ModuleMissing("device %r (enode): its adapter is not installed here (%s); deploy again with this config" % (name, e))
            return configure(self, where, name, spec, secrets)
        device = self.common(where, kind, spec, DEVICE_KEYS[kind], DEFAULT_POLL[kind])
        transport = spec.get("transport", "rest")
        if transport not in ("rest", "mqtt"):
            raise ConfigError("%s: %s.transport: 'rest' or 'mqtt', not %r" % (self.path, where, transport))
        if transport == "mqtt" and self.mqtt is None:
            raise ConfigError('%s: %s: transport mqtt needs an "mqtt": {"host": ...} section' % (self.path, where))
        if transport == "rest" and not spec.get("url"):
            raise ConfigError('%s: %s: needs "url", like "http://192.168.1.20"' % (self.path, where))
        device["token"] = secret(secrets, name, "token")
        return device

    def common(self, where, kind, spec, keys, poll, stale_after=None, timeout=5):
        """A device entry with the keys every kind shares checked: its known keys,
        poll, timeout and stale_after (the arguments: the kind's defaults)."""
        _check_keys(self.path, where, spec, keys)
        device = dict(spec)
        device["type"] = kind
        device["poll"] = seconds(self.path, where + ".poll", spec.get("poll", poll))
        device["timeout"] = seconds(self.path, where + ".timeout", spec.get("timeout", timeout))
        if "stale_after" in spec:
            device["stale_after"] = seconds(self.path, where + ".stale_after", spec["stale_after"])
        elif stale_after:
            device["stale_after"] = stale_after
        return device

    def max_ages(self):
        """{device name: stale_after} for devices that set their own."""
        out = {}
        for name, device in self.devices.items():
            if "stale_after" in device:
                out[name] = device["stale_after"]
        return out


def is_alias(text):
    """True for a name rules can use as one part of a signal: ASCII letters, digits, _."""
    if not text or "0" <= text[0] <= "9":
        return False
    for c in text:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c == "_"):
            return False
    return True


def secret(secrets, section, key):
    """The text under ``section``.``key`` in the secrets, or None."""
    block = secrets.get(section)
    if isinstance(block, dict):
        value = block.get(key)
        return value if isinstance(value, str) and value else None
    return None


def wifi(secrets, path="secrets.json"):
    """(ssid, password) of the board's Wi-Fi from the secrets, or ConfigError naming the key.

    The password may be left out for an open network; it never appears in a message.
    """
    block = secrets.get("wifi")
    if not isinstance(block, dict) or not isinstance(block.get("ssid"), str) or not block["ssid"]:
        raise ConfigError('%s: wifi: the board needs {"ssid": "your network", "password": "..."} here' % path)
    for key in block:
        if key not in WIFI_KEYS:
            raise ConfigError("%s: wifi: unknown key %r (known: %s)" % (path, key, ", ".join(WIFI_KEYS)))
    password = block.get("password", "")
    if not isinstance(password, str):
        raise ConfigError("%s: wifi.password: must be a text in quotes" % path)
    return block["ssid"], password


def load(path, secrets_path=None):
    """Read and check a site config and its secrets file (next to it by default).

    A missing secrets file is fine when no device needs a token.
    """
    data = read_json(path, "config")
    if secrets_path is None:
        folder = path.rsplit("/", 1)[0] if "/" in path else "."
        secrets_path = port.join(folder, "secrets.json")
    secrets = {}
    if port.file_size(secrets_path) is not None:
        secrets = read_json(secrets_path, "secrets")
    return Site(data, secrets, path, secrets_path)
