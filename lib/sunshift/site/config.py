"""The site config (devices, hosts, polling, staleness) and the secrets file.

Both are JSON; lines starting with `//` are comments (the shipped example is
commented).  Tokens and passwords live only in the secrets file: a config
that holds one is refused, so it can be shared or pasted into a forum safely.
Both files are checked whole against one schema (site/schema.py) before
anything starts; each problem is ``file: key: message``.  docs/config.md
documents every key, its bounds and every message.
"""

from .. import jsonpick, port
from ..errors import ConfigError
from ..port import const

# Where `run` keeps the engine's state (docs/service.md), beside the config.
STATE_FILE = "sunshift.state.json"
# The largest config or secrets file read at all, checked with stat before it
# is opened: the example config is under 2 KB, and a 50 MB one took 42 s and
# 372 MB before it was refused.
MAX_FILE_BYTES = const(1024 * 1024)
# The largest config and secrets files a board reads.  Reading one takes about
# three times its size at once (the bytes, the text, the text without its
# comments); the example config is under 2 KB, the example secrets under 1 KB.
# tools/deploy.py refuses larger files, so a board only meets one copied by hand.
BOARD_LIMITS = {"config": 16 * 1024, "secrets": 8 * 1024}
_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, which some editors put first


def strip_comments(text):
    """The text with `//` comment lines blanked (line numbers stay right)."""
    lines = text.split("\n")
    for k, line in enumerate(lines):
        if line.strip().startswith("//"):
            lines[k] = ""
    return "\n".join(lines)


def _position(text, offset):
    # Line and column of the byte ``offset`` of ``text`` (str), columns in characters.
    data = text.encode("utf-8")
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    return line, len(data[start:offset].decode("utf-8", "replace")) + 1


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

    The file must be a regular file of at most MAX_FILE_BYTES, checked before it
    is opened (a FIFO would block, a huge file fill the memory); ``board``:
    at most what a board reads (board_limit).  A leading UTF-8 byte order mark
    is skipped; a key twice in one object is an error."""
    kind, size = port.path_kind(path)
    if kind is None and size == "missing":
        raise ConfigError("%s: cannot read the %s file (does it exist?)" % (path, what))
    if kind != "file":
        raise ConfigError("%s: cannot read the %s file: %s" % (path, what, port.kind_words(size if kind is None else kind)))
    if board:
        board_limit(path, what)
    if size > MAX_FILE_BYTES:
        raise ConfigError("%s: the %s file is %d bytes; at most %d (1 MB) are read" % (path, what, size, MAX_FILE_BYTES))
    try:
        raw = port.read_bytes(path, size)
    except OSError as e:
        raise ConfigError("%s: cannot read the %s file (%s)" % (path, what, e))
    if raw[:3] == _BOM:
        raw = raw[3:]
    try:
        text = strip_comments(raw.decode("utf-8"))
    except UnicodeError:
        raise ConfigError("%s: the %s file is not UTF-8 text" % (path, what))
    try:
        data = jsonpick.loads(text, None, True)
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


class Site:
    """A checked site config plus its secrets."""

    def __init__(self, data, secrets, path="site.json", secrets_path="secrets.json"):
        self.path = path
        self.secrets_path = secrets_path
        # The schema's code is needed only now: imported for the check and
        # forgotten after it, it leaves a board's heap to the running site.
        from . import schema

        try:
            top, self.devices = schema.check_site(data, secrets, path, secrets_path)
        finally:
            del schema
            port.unload("sunshift.site.schema")
        rules = top.get("rules", ["rules"])
        self.rules_as_written = rules
        # Paths in the config are the config file's: the same wherever `run` starts.
        self.rules = [beside(path, p) for p in rules]
        self.state = beside(path, top.get("state", STATE_FILE))
        self.timezone = top.get("timezone", "local")
        self.stale_after = top.get("stale_after", 120)
        self.log_level = top.get("log_level", "info")
        self.mqtt = top.get("mqtt")

    def max_ages(self):
        """{device name: stale_after} for devices that set their own."""
        out = {}
        for name, device in self.devices.items():
            if "stale_after" in device:
                out[name] = device["stale_after"]
        return out


def folder_of(path):
    """The folder of a file's path ("." for a bare name)."""
    return path.rsplit("/", 1)[0] if "/" in path else "."


def beside(config_path, path):
    """``path`` as written in the config at ``config_path``: relative to the config's folder."""
    folder = folder_of(config_path)
    if path.startswith("/") or folder == ".":
        return path
    return port.join(folder, path)


def wifi(secrets, path="secrets.json"):
    """(ssid, password) of the board's Wi-Fi from the secrets, or ConfigError naming the key.

    The password may be left out for an open network; it never appears in a message.
    """
    block = secrets.get("wifi")
    if not isinstance(block, dict) or not isinstance(block.get("ssid"), str) or not block["ssid"]:
        raise ConfigError('%s: wifi: the board needs {"ssid": "your network", "password": "..."} here' % path)
    for key in block:
        if key not in ("ssid", "password"):
            raise ConfigError("%s: wifi: unknown key %r (known: ssid, password)" % (path, key))
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
    if port.path_kind(secrets_path) != (None, "missing"):
        secrets = read_json(secrets_path, "secrets")
    return Site(data, secrets, path, secrets_path)
