"""A JSON reader that keeps only the keys asked for.

Device answers are mostly fields no rule reads: an Envoy's production.json is
9 KB and 224 values, of which a reader needs about 20.  ``json.loads`` would
build all of it (12 KB of MicroPython heap on top of the body); this reader
skips what it does not keep without building it, so a board holds little more
than the body itself.  It also says exactly what is wrong with a bad body
(truncated, not UTF-8, an HTML page), where ``json`` only says ValueError.

Same code on both interpreters; CPython pays a few milliseconds per poll.
"""

from .port import const
from .text import utf8_error

MAX_DEPTH = const(24)  # nesting kept; device answers need 5

_SPACE = b" \t\r\n"
_QUOTE = const(34)
_BACKSLASH = const(92)
_ESCAPES = {34: '"', 92: "\\", 47: "/", 98: "\b", 102: "\f", 110: "\n", 114: "\r", 116: "\t"}


class JsonError(ValueError):
    """A body that is not the JSON it should be; the message says what and where."""


class _Reader:
    def __init__(self, data, keep):
        self.data = data
        self.n = len(data)
        # Keys are compared as bytes: only the kept ones are ever decoded.
        self.keep = None if keep is None else set(k.encode("utf-8") for k in keep)

    def fail(self, i, what):
        if i >= self.n:
            raise JsonError("truncated JSON: it ends after %d bytes" % self.n)
        c = self.data[i]
        shown = chr(c) if 32 <= c < 127 else "byte 0x%02x" % c
        raise JsonError("%s at byte %d (found %s)" % (what, i, shown))

    def space(self, i):
        data = self.data
        n = self.n
        while i < n and data[i] in _SPACE:
            i += 1
        return i

    def value(self, i, depth, build):
        """Read the value at ``i``: (value or None when not built, next index)."""
        i = self.space(i)
        if i >= self.n:
            self.fail(i, "expected a value")
        c = self.data[i]
        if c == 123:  # {
            return self.obj(i + 1, depth + 1, build)
        if c == 91:  # [
            return self.arr(i + 1, depth + 1, build)
        if c == _QUOTE:
            return self.string(i + 1, build)
        if c == 116:  # t
            return self.word(i, b"true", True)
        if c == 102:  # f
            return self.word(i, b"false", False)
        if c == 110:  # n
            return self.word(i, b"null", None)
        return self.number(i, build)

    def word(self, i, text, value):
        if not self.data.startswith(text, i):
            if self.n - i < len(text) and text.startswith(self.data[i:]):
                self.fail(self.n, "")
            self.fail(i, "expected a value")
        return value, i + len(text)

    def number(self, i, build):
        data = self.data
        start = i
        n = self.n
        while i < n and (48 <= data[i] <= 57 or data[i] in b"+-.eE"):
            i += 1
        if i == start:
            self.fail(i, "expected a value")
        if not build:
            return None, i
        text = data[start:i]
        try:
            if b"." in text or b"e" in text or b"E" in text:
                return float(text), i
            return int(text), i
        except ValueError:
            self.fail(start, "bad number")

    def string(self, i, build):
        data = self.data
        start = i
        escaped = False
        while True:
            end = data.find(b'"', i)
            if end < 0:
                self.fail(self.n, "")
            # A quote after an odd number of backslashes is part of the text.
            k = end - 1
            while k >= start and data[k] == _BACKSLASH:
                k -= 1
            if (end - 1 - k) % 2 == 0:
                break
            escaped = True
            i = end + 1
        if not build:
            return None, end + 1
        raw = data[start:end]
        if escaped or b"\\" in raw:
            raw = self.unescape(raw, start)
        try:
            return raw.decode("utf-8"), end + 1
        except UnicodeError:
            raise JsonError("text that is not UTF-8 at byte %d" % start)

    def unescape(self, raw, start):
        out = bytearray()
        i = 0
        n = len(raw)
        while i < n:
            c = raw[i]
            if c != _BACKSLASH:
                out.append(c)
                i += 1
                continue
            e = raw[i + 1] if i + 1 < n else 0
            if e == 117:  # \uXXXX
                try:
                    code = int(raw[i + 2 : i + 6], 16)
                except ValueError:
                    raise JsonError("bad \\u escape at byte %d" % (start + i))
                out.extend(chr(code).encode("utf-8"))
                i += 6
            elif e in _ESCAPES:
                out.extend(_ESCAPES[e].encode())
                i += 2
            else:
                raise JsonError("bad escape at byte %d" % (start + i))
        return bytes(out)

    def obj(self, i, depth, build):
        if depth > MAX_DEPTH:
            self.fail(i, "nested too deeply")
        result = {} if build else None
        i = self.space(i)
        if i < self.n and self.data[i] == 125:  # }
            return result, i + 1
        keep = self.keep
        data = self.data
        while True:
            i = self.space(i)
            if i >= self.n or data[i] != _QUOTE:
                self.fail(i, "expected a key in quotes")
            end = data.find(b'"', i + 1)
            if end < 0 or data[end - 1] == _BACKSLASH:
                key, i = self.string(i + 1, True)  # a key with escapes: the slow way
                raw = key.encode("utf-8")
            else:
                raw = data[i + 1 : end]
                key = None
                i = end + 1
            i = self.space(i)
            if i >= self.n or data[i] != 58:  # :
                self.fail(i, "expected ':' after a key")
            wanted = build and (keep is None or raw in keep)
            if wanted and key is None:
                try:
                    key = raw.decode("utf-8")
                except UnicodeError:
                    raise JsonError("text that is not UTF-8 at byte %d" % (i - len(raw) - 1))
            value, i = self.value(i + 1, depth, wanted)
            if wanted:
                result[key] = value
            i = self.space(i)
            if i >= self.n:
                self.fail(i, "")
            c = self.data[i]
            if c == 44:  # ,
                i += 1
            elif c == 125:  # }
                return result, i + 1
            else:
                self.fail(i, "expected ',' or '}'")

    def arr(self, i, depth, build):
        if depth > MAX_DEPTH:
            self.fail(i, "nested too deeply")
        result = [] if build else None
        i = self.space(i)
        if i < self.n and self.data[i] == 93:  # ]
            return result, i + 1
        while True:
            value, i = self.value(i, depth, build)
            if build:
                result.append(value)
            i = self.space(i)
            if i >= self.n:
                self.fail(i, "")
            c = self.data[i]
            if c == 44:
                i += 1
            elif c == 93:
                return result, i + 1
            else:
                self.fail(i, "expected ',' or ']'")


def describe_body(data):
    """What a body that should be JSON looks like instead ('an HTML page', 'the text ...')."""
    head = bytes(data[:200]).strip()
    low = head.lower()
    if low.startswith(b"<!doctype") or low.startswith(b"<html") or b"<html" in low or b"<body" in low or low.startswith(b"<"):
        return "an HTML page"
    if not head:
        return "an empty body"
    try:
        text = head[:60].decode("utf-8")
    except UnicodeError:
        return "bytes that are not text"
    return "the text '%s'" % text.replace("\n", " ")


def loads(data, keep=None):
    """Parse the JSON ``data`` (bytes or str), keeping only object keys in ``keep``
    (a set; None keeps everything).  Raises JsonError saying what is wrong."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif data and max(data) >= 0x80:
        # JSON is UTF-8, all of it, kept or not.  max() runs in C: an ASCII body
        # (every device answer we know) costs one quick pass and no copy.
        bad = utf8_error(data)
        if bad is not None:
            raise JsonError("text that is not UTF-8 at byte %d" % bad)
    reader = _Reader(data, keep)
    i = reader.space(0)
    if i >= reader.n:
        raise JsonError("not JSON but an empty body")
    if data[i] not in b'{["-0123456789tfn':
        raise JsonError("not JSON but %s" % describe_body(data))
    value, i = reader.value(i, 0, True)
    i = reader.space(i)
    if i < reader.n:
        reader.fail(i, "unexpected data after the JSON value")
    return value
