"""A JSON reader that keeps only the keys asked for, and reads a body as it arrives.

Device answers are mostly fields no rule reads: an Envoy's production.json is
7 to 9 KB and 224 values, of which a reader needs about 20.  ``json.loads``
would build all of it (12 KB of MicroPython heap) on top of the body;
:func:`loads` skips what it does not keep without building it, and
:func:`load` does so from a stream (an HTTP body) through a buffer of BUFFER
bytes, so the body is never in memory whole either: on a board the heap then
holds the kept values, not the answer.  It also says exactly what is wrong
with a bad body (truncated, not UTF-8, an HTML page), where ``json`` only says
ValueError.

Same code on both interpreters; CPython pays a few milliseconds per poll.
"""

from .errors import clip
from .port import const
from .text import utf8_error

MAX_DEPTH = const(24)  # nesting kept; device answers need 5
# Bytes read from a stream at a time: the reader's whole buffer.  A token it
# needs whole (a number, a word) must fit; texts are read in pieces.
BUFFER = const(512)
# The longest text kept (a key's value): a longer one is refused, not kept.
MAX_TEXT = const(4096)
# The most values one document may keep: far above any device's answer (an
# evcc state with its tariff slots keeps a few thousand), far below what an
# answer of `[0,0,0,...` up to the size limit would build (two million numbers,
# tens of MB on a PC, whose process keeps that memory once it has had it).
MAX_KEPT = const(50000)

_SPACE = b" \t\r\n"
_QUOTE = const(34)
_BACKSLASH = const(92)
_ESCAPES = {34: '"', 92: "\\", 47: "/", 98: "\b", 102: "\f", 110: "\n", 114: "\r", 116: "\t"}


class JsonError(ValueError):
    """A body that is not the JSON it should be; the message says what and where."""


def _incomplete(data, end):
    """How many bytes at the end of data[:end] begin a UTF-8 sequence that goes on past it."""
    k = end - 1
    low = max(end - 3, 0)
    while k >= low:
        c = data[k]
        if c & 0xC0 != 0x80:  # a lead byte (or ASCII)
            need = 2 if 0xC2 <= c <= 0xDF else 3 if 0xE0 <= c <= 0xEF else 4 if 0xF0 <= c <= 0xF4 else 0
            return end - k if end - k < need else 0
        k -= 1
    return 0


class _Reader:
    """A JSON value from ``data`` (bytes in memory) or from ``stream`` (anything
    with readinto) through a window: buf[0:n] holds the body's bytes from offset
    ``base``; ``i`` is the next byte to read and ``mark`` the first one still
    needed (the start of a token in progress).  Every method reads ``i`` again
    after calling :meth:`more`, which may move the window."""

    def __init__(self, data, stream, keep, unique=False, each=None):
        if stream is None:
            self.buf = data
            self.n = len(data)
            self.eof = True
            self.head = data[:200]
        else:
            self.buf = bytearray(BUFFER)
            self.view = memoryview(self.buf)
            self.n = 0
            self.eof = False
            self.head = None  # the body's first bytes, to say what it is if not JSON
        self.stream = stream
        self.each = each  # called with each object in an array, which is then not kept
        self.i = 0
        self.mark = 0
        self.base = 0
        self.tail = b""  # a UTF-8 sequence begun at the end of the last read, for the check
        # Keys are compared as bytes: only the kept ones are ever decoded.
        self.keep = None if keep is None else set(k.encode("utf-8") for k in keep)
        self.unique = unique  # a key twice in one object is an error, not "the last wins"
        self.left = MAX_KEPT  # values it may still keep

    # --- the window ---------------------------------------------------------

    def more(self):
        """Read on (the bytes before ``mark`` may go); False at the end of the body."""
        if self.eof:
            return False
        start = self.mark
        keep = self.n - start
        if keep >= BUFFER:
            self.fail(start, "a value longer than %d bytes" % BUFFER)
        if start:
            if keep:
                self.buf[0:keep] = bytes(self.view[start : self.n])  # a few bytes: the token in progress
            self.base += start
            self.i -= start
            self.mark = 0
            self.n = keep
        got = self.stream.readinto(self.view[keep:])
        if not got:
            self.eof = True
            if self.tail:
                raise JsonError("text that is not UTF-8 at byte %d" % (self.base + self.n - len(self.tail)))
            return False
        self.n = keep + got
        if self.head is None:
            self.head = bytes(self.view[: min(self.n, 200)])
        self.check(keep, self.n)
        return True

    def check(self, start, end):
        """Fail at the first byte of buf[start:end] that is not UTF-8 (a sequence
        cut by the end of a read is checked with the next one)."""
        if not self.tail and max(self.view[start:end]) < 0x80:
            return  # ASCII, as every device answer we know: one pass in C
        piece = self.tail + bytes(self.view[start:end])
        cut = len(piece) - _incomplete(piece, len(piece))
        bad = utf8_error(piece[:cut])
        if bad is not None:
            raise JsonError("text that is not UTF-8 at byte %d" % (self.base + start - len(self.tail) + bad))
        self.tail = piece[cut:]

    def fail(self, i, what):
        if i >= self.n:
            raise JsonError("truncated JSON: it ends after %d bytes" % (self.base + self.n))
        c = self.buf[i]
        shown = chr(c) if 32 <= c < 127 else "byte 0x%02x" % c
        raise JsonError("%s at byte %d (found %s)" % (what, self.base + i, shown))

    def byte(self):
        """The byte at i, or -1 at the end of the body."""
        if self.i >= self.n:
            self.mark = self.i
            if not self.more():
                return -1
        return self.buf[self.i]

    def space(self):
        while True:
            buf = self.buf
            n = self.n
            i = self.i
            while i < n and buf[i] in _SPACE:
                i += 1
            self.i = i
            if i < n:
                return
            self.mark = i
            if not self.more():
                return

    def token(self, test):
        """Read on while ``test(byte)``: (start, end) of the bytes, in the window."""
        self.mark = self.i
        while True:
            buf = self.buf
            n = self.n
            i = self.i
            while i < n and test(buf[i]):
                i += 1
            self.i = i
            if i < n or not self.more():
                return self.mark, self.i

    # --- values -------------------------------------------------------------

    def value(self, depth, build):
        """The value at i, or None when not built."""
        self.space()
        c = self.byte()
        if c == 123:  # {
            self.i += 1
            return self.obj(depth + 1, build)
        if c == 91:  # [
            self.i += 1
            return self.arr(depth + 1, build)
        if c == _QUOTE:
            self.i += 1
            raw = self.string(build)
            return self.decode(raw) if build else None
        if c == 116:  # t
            return self.word(b"true", True)
        if c == 102:  # f
            return self.word(b"false", False)
        if c == 110:  # n
            return self.word(b"null", None)
        if c < 0:
            self.fail(self.i, "expected a value")
        return self.number(build)

    def word(self, text, value):
        start, end = self.token(_is_letter)
        found = bytes(self.buf[start:end])
        if found != text:
            if end - start < len(text) and text.startswith(found) and end >= self.n:
                self.fail(self.n, "")
            self.fail(start, "expected a value")
        return value

    def number(self, build):
        start, end = self.token(_is_number)
        if end == start:
            self.fail(start, "expected a value")
        if not build:
            return None
        text = bytes(self.buf[start:end])
        try:
            if b"." in text or b"e" in text or b"E" in text:
                return float(text)
            return int(text)
        except ValueError:
            self.fail(start, "bad number")

    def string(self, build):
        """The raw bytes of the text at i (after its opening quote) when ``build``,
        escapes as written; None otherwise.  Reads past its closing quote."""
        begin = self.base + self.i  # for messages
        parts = [] if build else None
        size = 0
        backslashes = 0  # a run of them at the end of the part already let go
        self.mark = self.i
        while True:
            buf = self.buf
            start = self.mark
            end = buf.find(b'"', self.i, self.n)
            if end >= 0:
                # A quote after an odd number of backslashes is part of the text.
                k = end - 1
                while k >= start and buf[k] == _BACKSLASH:
                    k -= 1
                run = end - 1 - k + (backslashes if k < start else 0)
                if run % 2 == 0:
                    if build:
                        parts.append(bytes(buf[start:end]))
                    self.i = end + 1
                    break
                self.i = end + 1
                continue
            # No closing quote in the window: let go of what is here (keeping it if building).
            n = self.n
            k = n - 1
            while k >= start and buf[k] == _BACKSLASH:
                k -= 1
            backslashes = n - 1 - k + (backslashes if k < start else 0)
            if build:
                size += n - start
                if size > MAX_TEXT:
                    raise JsonError("a text longer than %d bytes at byte %d" % (MAX_TEXT, begin))
                parts.append(bytes(buf[start:n]))
            self.i = n
            self.mark = n
            if not self.more():
                self.fail(self.n, "")
        if not build:
            return None
        raw = parts[0] if len(parts) == 1 else b"".join(parts)
        if len(raw) > MAX_TEXT:
            raise JsonError("a text longer than %d bytes at byte %d" % (MAX_TEXT, begin))
        return raw

    def decode(self, raw):
        if b"\\" in raw:
            raw = self.unescape(raw)
        try:
            return raw.decode("utf-8")
        except UnicodeError:
            raise JsonError("text that is not UTF-8 near byte %d" % (self.base + self.i))

    def unescape(self, raw):
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
                    raise JsonError("bad \\u escape near byte %d" % (self.base + self.i))
                out.extend(chr(code).encode("utf-8"))
                i += 6
            elif e in _ESCAPES:
                out.extend(_ESCAPES[e].encode())
                i += 2
            else:
                raise JsonError("bad escape near byte %d" % (self.base + self.i))
        return bytes(out)

    def after(self, close, what):
        """After a member: True at the closing bracket (read past it), False after a comma."""
        self.space()
        c = self.byte()
        if c < 0:
            self.fail(self.i, "")
        self.i += 1
        if c == 44:  # ,
            return False
        if c == close:
            return True
        self.i -= 1
        self.fail(self.i, what)

    def obj(self, depth, build):
        if depth > MAX_DEPTH:
            self.fail(self.i, "nested too deeply")
        result = {} if build else None
        self.space()
        if self.byte() == 125:  # }
            self.i += 1
            return result
        keep = self.keep
        while True:
            self.space()
            if self.byte() != _QUOTE:
                self.fail(self.i, "expected a key in quotes")
            at = self.base + self.i
            self.i += 1
            raw = self.string(build)
            self.space()
            if self.byte() != 58:  # :
                self.fail(self.i, "expected ':' after a key")
            self.i += 1
            wanted = False
            if build:
                if b"\\" in raw:
                    raw = self.unescape(raw)
                wanted = keep is None or raw in keep
            value = self.value(depth, wanted)
            if wanted:
                try:
                    key = raw.decode("utf-8")
                except UnicodeError:
                    raise JsonError("text that is not UTF-8 near byte %d" % (self.base + self.i))
                if self.unique and key in result:
                    raise JsonError("the key %s is here twice (a JSON object names each key once) at byte %d" % (_quoted(key), at))
                self.left -= 1  # counted here, not in a call: this is the inner loop
                if self.left < 0:
                    self.too_many()
                result[key] = value
            if self.after(125, "expected ',' or '}'"):
                return result

    def too_many(self):
        """JsonError: more than MAX_KEPT values kept (obj and arr count them)."""
        raise JsonError("more than %d values, near byte %d: not a device's answer" % (MAX_KEPT, self.base + self.i))

    def arr(self, depth, build):
        if depth > MAX_DEPTH:
            self.fail(self.i, "nested too deeply")
        result = [] if build else None
        self.space()
        if self.byte() == 93:  # ]
            self.i += 1
            return result
        while True:
            value = self.value(depth, build)
            if build and type(value) is dict and self.each is not None:
                self.each(value)  # a slot of a forecast, say: gone once it is taken
            elif build:
                self.left -= 1
                if self.left < 0:
                    self.too_many()
                result.append(value)
            if self.after(93, "expected ',' or ']'"):
                return result

    def document(self):
        """The one JSON value of the body, and nothing after it."""
        self.space()
        c = self.byte()
        if c < 0:
            raise JsonError("not JSON but an empty body")
        if c not in b'{["-0123456789tfn':
            raise JsonError("not JSON but %s" % describe_body(self.head or b""))
        value = self.value(0, True)
        self.space()
        if self.byte() >= 0:
            self.fail(self.i, "unexpected data after the JSON value")
        return value


def _is_letter(c):
    return 97 <= c <= 122


def _is_number(c):
    return 48 <= c <= 57 or c == 43 or c == 45 or c == 46 or c == 69 or c == 101  # digits + - . E e


def describe_body(data):
    """What a body that should be JSON looks like instead ('an HTML page', 'the text ...'):
    of a text, its start, escaped and clipped (errors.clip)."""
    head = bytes(data[:200]).strip()
    low = head.lower()
    if low.startswith(b"<!doctype") or low.startswith(b"<html") or b"<html" in low or b"<body" in low or low.startswith(b"<"):
        return "an HTML page"
    if not head:
        return "an empty body"
    bad = utf8_error(head)
    if bad is not None and bad < 60:
        return "bytes that are not text"
    return "the text " + clip(head, 60, "'", True)


def _quoted(text):
    return '"%s"' % (text if len(text) <= 40 else text[:40] + "...")


def loads(data, keep=None, unique=False, each=None):
    """Parse the JSON ``data`` (bytes or str), keeping only object keys in ``keep``
    (a set; None keeps everything); ``unique``: a key twice in one object is an
    error (files people write), not the last one winning.  Raises JsonError
    saying what is wrong."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif data and max(data) >= 0x80:
        # JSON is UTF-8, all of it, kept or not.  max() runs in C: an ASCII body
        # (every device answer we know) costs one quick pass and no copy.
        bad = utf8_error(bytes(data))
        if bad is not None:
            raise JsonError("text that is not UTF-8 at byte %d" % bad)
    return _Reader(data, None, keep, unique, each).document()


def load(stream, keep=None, each=None):
    """Parse JSON read from ``stream`` (readinto(buffer) -> bytes read, 0 at the
    end), keeping only object keys in ``keep``, through one BUFFER-byte
    buffer: the body is never held whole.  With ``each``, every object in an
    array is handed to it as soon as it is read and not kept (a long list of
    slots never stands in memory whole).  Raises JsonError."""
    return _Reader(None, stream, keep, False, each).document()
