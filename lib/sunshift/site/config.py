"""The site config (devices, hosts, polling, staleness) and the secrets file.

Both are JSON; lines starting with `//` are comments (the shipped example is
commented).  Tokens and passwords live only in the secrets file: a config
that holds one is refused, so it can be shared or pasted into a forum safely.
docs/config.md documents every key.
"""

from .. import jsonpick, port
from ..devices import kinds
from ..errors import ConfigError
from ..text import parse_duration

SECRET_KEYS = ("token", "password", "secret", "api_key", "apikey", "client_secret")
TOP_KEYS = ("rules", "timezone", "stale_after", "mqtt", "devices", "log_level", "state")
# Where `run` keeps the engine's state (docs/service.md), beside the config.
STATE_FILE = "sunshift.state.json"
MQTT_KEYS = ("host", "port", "username", "client_id", "keepalive", "status_topic")
# The board's Wi-Fi, in the secrets file: {"wifi": {"ssid": "...", "password": "..."}}.
WIFI_KEYS = ("ssid", "password")
# The largest config and secrets files a board reads.  Reading one takes about
# three times its size at once (the bytes, the text, the text without its
# comments); the example config is under 2 KB, the example secrets under 1 KB.
# tools/deploy.py refuses larger files, so a board only meets one copied by hand.
BOARD_LIMITS = {"config": 16 * 1024, "secrets": 8 * 1024}


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


def board_limit(path, what):
    """ConfigError when the ``what`` file ("config" or "secrets") at ``path`` is
    larger than a board reads (BOARD_LIMITS); nothing when it fits or is missing."""
    size = port.file_size(path)
    limit = BOARD_LIMITS[what]
    if size is not None and size > limit:
        advice = "shorten its comments, or split the site over two boards"
        raise ConfigError("%s: the %s file is %d bytes; a board reads at most %d (%d KB): %s" % (path, what, size, limit, limit // 1024, advice))


def read_json(path, what, board=False):
    """The JSON object in ``path`` (comments allowed), or ConfigError naming the place.

    ``board``: refuse a file larger than a board reads (board_limit) before reading it."""
    if board:
        board_limit(path, what)
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
        parsed = parse_duration(value)
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
        rules = data.get("rules", "rules")
        if isinstance(rules, str):
            rules = [rules]
        self.rules_as_written = rules
        # Paths in the config are the config file's: the same wherever `run` starts.
        self.rules = [beside(path, p) for p in rules]
        state = data.get("state", STATE_FILE)
        if not isinstance(state, str) or not state:
            raise ConfigError('%s: state: the path of the state file, like "%s"' % (path, STATE_FILE))
        self.state = beside(path, state)
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
        kind = spec.get("type", name if name in kinds.names() else None)
        if kind not in kinds.names():
            raise ConfigError("%s: %s: unknown type %r (one of %s)" % (self.path, where, kind, ", ".join(kinds.names())))
        # The adapter checks its own entry: it knows its keys and defaults, and
        # a board deployed without it says so (ModuleMissing) rather than guess.
        return kinds.adapter_class(kind, "rest", name).configure(Check(self, where, name, kind, spec, secrets))

    def max_ages(self):
        """{device name: stale_after} for devices that set their own."""
        out = {}
        for name, device in self.devices.items():
            if "stale_after" in device:
                out[name] = device["stale_after"]
        return out


class Check:
    """What a device's adapter checks its config entry with (Adapter.configure):
    the entry (``spec``), its name, and errors that name the file and the key."""

    def __init__(self, site, where, name, kind, spec, secrets):
        self.path = site.path
        self.where = where  # "devices.<name>"
        self.name = name
        self.kind = kind
        self.spec = spec
        self.secrets = secrets
        self.has_mqtt = site.mqtt is not None

    def fail(self, message, key=None):
        """Raise ConfigError: "site.json: devices.evcc.transport: <message>"."""
        raise ConfigError("%s: %s%s: %s" % (self.path, self.where, "" if key is None else "." + key, message))

    def seconds(self, key, default):
        """A duration under ``key`` (seconds, or a text like "2m"), or ``default``."""
        return seconds(self.path, self.where + "." + key, self.spec.get(key, default))

    def secret(self, key):
        """The text under the device's name and ``key`` in the secrets, or None."""
        return secret(self.secrets, self.name, key)

    def common(self, keys, poll, stale_after=None, timeout=port.TIMEOUT):
        """The entry with the keys every kind shares checked: only ``keys`` in it,
        poll, timeout and stale_after (the arguments are the kind's defaults)."""
        _check_keys(self.path, self.where, self.spec, keys)
        device = dict(self.spec)
        device["type"] = self.kind
        device["poll"] = self.seconds("poll", poll)
        device["timeout"] = self.seconds("timeout", timeout)
        if "stale_after" in self.spec:
            device["stale_after"] = self.seconds("stale_after", None)
        elif stale_after:
            device["stale_after"] = stale_after
        return device


def folder_of(path):
    """The folder of a file's path ("." for a bare name)."""
    return path.rsplit("/", 1)[0] if "/" in path else "."


def beside(config_path, path):
    """``path`` as written in the config at ``config_path``: relative to the config's folder."""
    folder = folder_of(config_path)
    if path.startswith("/") or folder == ".":
        return path
    return port.join(folder, path)


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
        secrets_path = port.join(folder_of(path), "secrets.json")
    secrets = {}
    if port.file_size(secrets_path) is not None:
        secrets = read_json(secrets_path, "secrets")
    return Site(data, secrets, path, secrets_path)
