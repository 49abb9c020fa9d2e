"""The schema of the site config and the secrets file, and the code that checks them.

TOP_KEYS and MQTT_KEYS here, and each device kind's CONFIG_KEYS on its
adapter class (devices/adapter.py says what the entries mean), are one
schema for both files: only known keys are taken ("did you mean ..."), every
value is checked for its type and bounds, and each problem is a ConfigError
``file: key: message`` before anything starts.  docs/config.md lists the keys,
their bounds and the messages.

config.Site imports this module to check a site and forgets it after
(port.unload): a board needs it only while it loads its config, and its
functions would otherwise hold heap for as long as the site runs.
"""

from .. import port
from ..devices import kinds
from ..devices.adapter import STALE_KEY, Adapter
from ..errors import ConfigError
from ..port import const
from ..text import close_to, parse_duration

# Keys refused in the config wherever they are: they hold secrets.
SECRET_KEYS = ("token", "password", "secret", "api_key", "apikey", "client_secret")
LOG_LEVELS = ("debug", "info", "warn", "warning", "error")
# The schema of the top level and of the "mqtt" section: (key, kind[, a[, b]]),
# as a device kind's CONFIG_KEYS (devices/adapter.py).
TOP_KEYS = (
    ("rules", "paths"),
    ("timezone", "zone"),
    STALE_KEY,
    ("mqtt", "object"),
    ("devices", "object"),
    ("log_level", "word", LOG_LEVELS),
    ("state", "path"),
)
MQTT_KEYS = (
    ("host", "host"),
    ("port", "int", 1, 65535),
    ("username", "text"),
    ("client_id", "text"),
    ("keepalive", "duration", 1, 3600),
    ("status_topic", "topic"),
    ("password", "secret"),
)
# The longest text a key takes (a host, a topic, a path) and the longest
# secret (an Envoy's token is about 1 KB): longer is a mistake.
MAX_TEXT = const(1024)
MAX_SECRET = const(8192)
# The board's Wi-Fi, in the secrets file: {"wifi": {"ssid": "...", "password": "..."}}.
WIFI_KEYS = (("ssid", "secret"), ("password", "secret"))


def shown(value):
    """A config value as a message shows it: JSON, clipped (never a secret's value)."""
    if isinstance(value, float):
        return "%g" % value  # the same on both interpreters, infinity included
    text = str(value) if type(value) is int else port.json_dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _words(choices):
    """'a', 'b' or 'c'."""
    quoted = ["'%s'" % c for c in choices]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def guess(value, choices):
    """'; did you mean 'x'?' for a near miss of ``choices``, or ''."""
    if not isinstance(value, str):
        return ""
    low = value.lower()
    near = low if low in choices else close_to(value, choices)
    return "; did you mean '%s'?" % near if near else ""


def fail(path, where, message):
    """Raise ConfigError: "site.json: devices.envoy.poll: <message>"."""
    raise ConfigError("%s: %s: %s" % (path, where, message))


def seconds(path, where, value, low=None, high=None):
    """A duration from the config: a number of seconds or a text like "2m",
    finite and above zero (from ``low`` to ``high`` seconds when given)."""
    if isinstance(value, str):
        parsed = parse_duration(value)
        if parsed is None:
            raise ConfigError('%s: %s: %r is not a duration (a number of seconds, or "90s", "5m")' % (path, where, value))
        value = parsed
    elif type(value) is bool or not isinstance(value, (int, float)):
        fail(path, where, 'a duration: a number of seconds or a text like "90s" or "5m", not %s' % shown(value))
    if not value > 0 or value - value != 0 or (low is not None and not low <= value <= high):
        bounds = "above zero" if low is None else "from %g s to %g s" % (low, high)
        fail(path, where, "%s s is out of range: a duration %s" % (shown(value), bounds))
    return value


def _text(path, where, value, what="a text in quotes"):
    if not isinstance(value, str) or not value:
        fail(path, where, "%s, not %s" % (what, shown(value)))
    if len(value) > MAX_TEXT:
        fail(path, where, "a text of at most %d characters, not %d" % (MAX_TEXT, len(value)))
    return value


def _url(path, where, value):
    """An http:// or https:// URL with a host (and a port from 1 to 65535, when given)."""
    _text(path, where, value, 'a URL in quotes, like "http://192.168.1.20"')
    cut = value.find("://")
    if cut < 0:
        fail(path, where, '%s has no http:// or https:// in front (like "http://%s")' % (shown(value), value))
    scheme = value[:cut]
    if scheme not in ("http", "https"):
        fail(path, where, "%s:// is not a scheme sunshift speaks: http:// or https:// (in lower case)" % scheme)
    host = value[cut + 3 :]
    for end in "/?#":
        host = host.split(end)[0]
    if "@" in host:
        fail(path, where, "no user or password in the URL: they go in the secrets file")
    number = None
    close = host.find("]")  # an IPv6 address: [fd00::1]:8080
    colon = host.find(":", close + 1) if host.startswith("[") else host.find(":")
    if colon >= 0:
        host, number = host[:colon], host[colon + 1 :]
    if not host or " " in host:
        fail(path, where, "%s has no host (like %s://192.168.1.20)" % (shown(value), scheme))
    if number is not None and (not number.isdigit() or not 1 <= int(number) <= 65535):
        fail(path, where, "%s: the port %s is not a number from 1 to 65535" % (shown(value), shown(number)))
    return value


def _zone(path, where, value):
    """ "local", "UTC" or an offset from -12:00 to +14:00 (port.time_of_day reads it)."""
    if value in ("local", "UTC", "utc"):
        return value
    if isinstance(value, str):
        try:
            offset = port.parse_offset(value)
            if -12 * 3600 <= offset <= 14 * 3600 and int(value[4:6]) < 60:
                return value
        except ValueError:
            pass
    fail(path, where, '%s is not a time zone: "local", "UTC" or an offset like "+01:00" (zone names need a database a board has not)' % shown(value))


def _list(path, where, value, example):
    if not isinstance(value, list):
        fail(path, where, "a list like %s, not %s" % (example, shown(value)))
    return value


def _word(path, where, value, choices):
    if not isinstance(value, str) or value not in choices:
        fail(path, where, "%s, not %s%s" % (_words(choices), shown(value), guess(value, choices)))
    return value


def check_value(path, where, entry, value):
    """``value`` checked against the schema ``entry`` (key, kind[, a[, b]]) and
    made what the code takes (a duration in seconds, a list of paths), or
    ConfigError saying ``path: where: message``."""
    kind = entry[1]
    a = entry[2] if len(entry) > 2 else None
    b = entry[3] if len(entry) > 3 else None
    if value is None:
        fail(path, where, "null is not a value here; leave the key out for its default")
    if kind == "duration":
        return seconds(path, where, value, a, b)
    if kind == "int":
        if type(value) is not int or not a <= value <= b:
            hint = " (a number, without quotes)" if isinstance(value, str) and value.strip().isdigit() else ""
            fail(path, where, "a whole number from %d to %d, not %s%s" % (a, b, shown(value), hint))
        return value
    if kind == "bool":
        if type(value) is not bool:
            fail(path, where, "true or false (JSON, without quotes), not %s" % shown(value))
        return value
    if kind == "word":
        return _word(path, where, value, a)
    if kind == "words":
        for k, item in enumerate(_list(path, where, value, '["%s"]' % a[0])):
            _word(path, "%s[%d]" % (where, k), item, a)
        return value
    if kind == "entities":
        for k, item in enumerate(_list(path, where, value, '["%s/dhw/curtemp"]' % a[0])):
            _text(path, "%s[%d]" % (where, k), item, 'a path like "%s/dhw/curtemp"' % a[0])
            parts = item.split("/")
            if len(parts) < 2 or "" in parts:
                fail(path, "%s[%d]" % (where, k), '%s is not a path like "%s/dhw/curtemp"' % (shown(item), a[0]))
            _word(path, "%s[%d]" % (where, k), parts[0], a)
        return value
    if kind == "url":
        return _url(path, where, value)
    if kind == "host":
        _text(path, where, value, 'a host name or address in quotes, like "192.168.1.10"')
        if "://" in value or "/" in value or " " in value:
            fail(path, where, '%s is not a host name or address: give the host alone (the port goes under "port")' % shown(value))
        return value
    if kind == "topic":
        _text(path, where, value, 'an MQTT topic in quotes, like "evcc"')
        if "+" in value or "#" in value:
            fail(path, where, "%s: a topic here has no wildcards (+ or #)" % shown(value))
        return value
    if kind in ("text", "path"):
        return _text(path, where, value)
    if kind == "paths":  # one path, or a list of them (none: a config for `read`)
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            fail(path, where, 'a rule file or folder in quotes, or a list of them, like "rules", not %s' % shown(value))
        for item in items:
            _text(path, where, item, "a rule file or folder in quotes")
        return items
    if kind == "zone":
        return _zone(path, where, value)
    if kind == "object":
        if not isinstance(value, dict):
            fail(path, where, "an object { ... }, not %s" % shown(value))
        return value
    raise ValueError("%s: no such kind of config value %r" % (entry[0], kind))


def _name(entry):
    return entry if isinstance(entry, str) else entry[0]


def _names(schema):
    """The key names of a schema (entries and bare names)."""
    return [_name(entry) for entry in schema]


def _secret_names(schema):
    """The keys of a schema that live in the secrets file."""
    return [entry[0] for entry in schema if not isinstance(entry, str) and entry[1] == "secret"]


def _entry(schema, key):
    """The schema's entry for ``key`` (a bare name for keys checked elsewhere), or None."""
    for entry in schema:
        if _name(entry) == key:
            return entry
    return None


def check_keys(path, where, data, schema, extra=()):
    """``data`` (a config object) checked against ``schema``: every key known
    (``extra`` names more), none a secret, each value of its kind.  Returns a
    copy with the values as the code takes them; bare names are copied as they are."""
    secrets = _secret_names(schema)
    known = [name for name in _names(schema) if name not in secrets] + list(extra)
    prefix = "" if where is None else where + "."
    for key in sorted(data):
        if key.lower() in SECRET_KEYS or key in secrets:
            fail(path, prefix + key, "secrets go in the secrets file, not in the config (see docs/config.md)")
        if _entry(schema, key) is None and key not in extra:
            fail(path, where or "the top level", "unknown key '%s'%s (known: %s)" % (key, guess(key, known), ", ".join(known)))
    out = {}
    for key in data:
        entry = _entry(schema, key)
        out[key] = data[key] if entry is None or isinstance(entry, str) else check_value(path, prefix + key, entry, data[key])
    return out


def _secret_name(name):
    # A name in the secrets file as a message shows it: a token pasted where a
    # name belongs stays unshown.
    return name if len(name) <= 24 else name[:8] + "..."


def check_secrets(path, section, block, schema):
    """The secrets under ``section`` checked against the "secret" keys of
    ``schema``: known keys, each a text (a value never appears in a message).
    Returns {key: text}; an empty text counts as none."""
    if not isinstance(block, dict):
        fail(path, section, 'an object of texts, like {"token": "..."}')
    wanted = _secret_names(schema)
    out = {}
    for key in sorted(block):
        if key not in wanted:
            known = ("known: " + ", ".join(wanted)) if wanted else "%s takes no secrets" % section
            fail(path, section, "unknown key '%s'%s (%s)" % (_secret_name(key), guess(key, wanted), known))
        value = block[key]
        if not isinstance(value, str):
            kind = "a number" if isinstance(value, (int, float)) and type(value) is not bool else "not a text"
            fail(path, "%s.%s" % (section, key), "a text in quotes; this is %s (its value is not shown)" % kind)
        if len(value) > MAX_SECRET:
            fail(path, "%s.%s" % (section, key), "longer than %d characters (its value is not shown)" % MAX_SECRET)
        out[key] = value or None
    return out


def check_site(data, secrets, path, secrets_path):
    """The site config ``data`` and its ``secrets`` checked: (top, devices), the
    top level's values as the code takes them (with the "mqtt" section's
    password from the secrets) and {name: checked entry}; ConfigError otherwise."""
    top = check_keys(path, None, data, TOP_KEYS)
    mqtt = top.get("mqtt")
    if mqtt is not None:
        if "host" not in mqtt:
            fail(path, "mqtt", 'needs at least {"host": "..."}')
        mqtt = check_keys(path, "mqtt", mqtt, MQTT_KEYS)
        if "keepalive" in mqtt:  # a whole number of seconds on the wire
            mqtt["keepalive"] = int(mqtt["keepalive"] + 0.5)
        top["mqtt"] = mqtt
    block = secrets.get("mqtt")
    found = {} if block is None else check_secrets(secrets_path, "mqtt", block, MQTT_KEYS)
    if mqtt is not None:
        mqtt["password"] = found.get("password")
    if "wifi" in secrets:
        check_secrets(secrets_path, "wifi", secrets["wifi"], WIFI_KEYS)
    entries = top.get("devices")
    if not entries:
        fail(path, "devices", 'list at least one device, like "envoy": {"type": "envoy", "url": "https://..."}')
    devices = {}
    for name in entries:
        devices[name] = _device(path, secrets_path, name, entries[name], secrets, mqtt is not None)
    for section in sorted(secrets):
        if section not in devices and section not in ("mqtt", "wifi"):
            known = sorted(devices) + ["mqtt", "wifi"]
            fail(
                secrets_path,
                _secret_name(section),
                "no device of %s has this name%s (secrets are kept under a device's name, 'mqtt' or 'wifi')" % (path, guess(section, known)),
            )
    return top, devices


def _device(path, secrets_path, name, spec, secrets, has_mqtt):
    where = "devices." + name
    if "." in name or not name:
        fail(path, where, "a device name has no dots (it is the first part of signal names)")
    if not isinstance(spec, dict):
        fail(path, where, "an object { ... }, not %s" % shown(spec))
    kind = spec.get("type", name if name in kinds.names() else None)
    if kind not in kinds.names():
        fail(path, where, "unknown type %r%s (one of %s)" % (kind, guess(kind if kind is not None else name, kinds.names()), ", ".join(kinds.names())))
    # The adapter finishes its own entry: it knows its defaults, and a board
    # deployed without it says so (ModuleMissing) rather than guess.
    check = Check(path, secrets_path, where, name, kind, spec, secrets, has_mqtt)
    return kinds.adapter_class(kind, "rest", name).configure(check)


class Check:
    """What a device's adapter checks its config entry with (Adapter.configure):
    the entry (``spec``), its name, and errors that name the file and the key."""

    def __init__(self, path, secrets_path, where, name, kind, spec, secrets, has_mqtt):
        self.path = path
        self.secrets_path = secrets_path
        self.where = where  # "devices.<name>"
        self.name = name
        self.kind = kind
        self.spec = spec
        self.secrets = secrets
        self.has_mqtt = has_mqtt

    def fail(self, message, key=None):
        """Raise ConfigError: "site.json: devices.evcc.transport: <message>"."""
        fail(self.path, self.where + ("" if key is None else "." + key), message)

    def common(self, keys, poll, stale_after=None, timeout=port.TIMEOUT):
        """The entry checked against the schema ``keys`` (CONFIG_KEYS) and the
        keys every kind shares (Adapter.COMMON_KEYS: poll, timeout, stale_after,
        whose defaults the arguments are), with the device's secrets from the
        secrets file under its name.  Returns it as a dict for configure to finish."""
        common = _names(Adapter.COMMON_KEYS)
        keys = Adapter.COMMON_KEYS + tuple(entry for entry in keys if _name(entry) not in common)
        device = check_keys(self.path, self.where, self.spec, keys, ("type",))
        block = self.secrets.get(self.name)
        found = {} if block is None else check_secrets(self.secrets_path, self.name, block, keys)
        for name in _secret_names(keys):
            device[name] = found.get(name)
        device["type"] = self.kind
        device["poll"] = device.get("poll", poll)
        device["timeout"] = device.get("timeout", timeout)
        if "stale_after" not in device and stale_after:
            device["stale_after"] = stale_after
        return device
