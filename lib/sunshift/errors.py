"""The one exception hierarchy of sunshift, and how a device's own text is
shown in its messages and in log lines (:func:`clip`)."""

# How many characters of a device's text a message or a log line shows: a
# title, a value, an error text, the start of a body (clip's default).
CLIP = 120
# The longest message a DeviceError keeps and the longest line the log writes,
# whatever reached them: the bounds behind the clips where a device's text goes in.
MAX_MESSAGE = 1000
MAX_LINE = 2000
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def clip(text, limit=CLIP, quote="", sample=False):
    """``text`` (str or bytes; anything else as str()) fit for a message or a log
    line: control characters escaped (\\n, \\x1b, C0 and C1 alike, so a device can
    neither start a line of its own nor send a terminal its codes) and at most
    ``limit`` characters shown.  A longer text ends with '…' and says its full
    length: 'Envoy of the Smith famil…' (3145728 characters).  ``quote`` (' or ")
    goes around it, with backslashes and that quote escaped too.  ``sample``:
    ``text`` is only the start of something longer (a body read in part), so no
    length is said.  Only the first ``limit`` characters are looked at: a 3 MB
    text is never copied whole."""
    if isinstance(text, str):
        size = len(text)
        head = text if size <= limit else text[: limit + 1]  # one more than fits: the loop sees the cut
        covered = len(head)
        raw = False
        unit = "characters"
    elif isinstance(text, (bytes, bytearray, memoryview)):
        size = len(text)
        head, covered, raw = _text_of(text, limit)
        unit = "bytes"
    else:
        return clip(str(text), limit, quote, sample)
    more = size > covered
    if not more and len(head) <= limit and not raw and _plain(head, quote):
        return quote + head + quote  # nothing to escape or cut: the usual case, one pass in C
    # Runs of characters shown as they are go out as slices of ``head``, so a line
    # with a '°C' but nothing to escape is not rebuilt a character at a time.
    out = []
    shown = 0
    used = 0
    start = 0  # the first character of the run not yet in ``out``
    for c in head:
        o = ord(c)
        if o < 32 or 127 <= o < 160 or (raw and o >= 128) or o == 0x2028 or o == 0x2029:
            piece = _NAMED.get(c) or ("\\x%02x" % o if o < 256 else "\\u%04x" % o)
        elif quote and (c == quote or c == "\\"):
            piece = "\\" + c
        else:
            if shown == limit:
                break
            shown += 1
            used += 1
            continue
        if shown + len(piece) > limit:
            break
        if used > start:
            out.append(head[start:used])
        out.append(piece)
        shown += len(piece)
        used += 1
        start = used
    more = more or used < len(head)
    if not out and not more:
        return quote + head + quote
    if used > start:
        out.append(head[start:used])
    if not more:
        return quote + "".join(out) + quote
    if sample:
        return quote + "".join(out) + "…" + quote
    return "%s%s…%s (%d %s)" % (quote, "".join(out), quote, size, unit)


def _plain(text, quote):
    """True if ``text`` is printable ASCII with nothing to escape."""
    if not text:
        return True
    if min(text) < " " or max(text) > "~":
        return False
    return not quote or (quote not in text and "\\" not in text)


def _text_of(data, limit):
    """(str, bytes of ``data`` it covers, not UTF-8) of the first bytes of
    ``data``, enough for ``limit`` characters: decoded, a sequence cut at the end
    left out; bytes that are not UTF-8 as characters 0-255, to be escaped."""
    piece = bytes(data[: limit * 4])
    for cut in (0, 1, 2, 3):
        try:
            return piece[: len(piece) - cut].decode("utf-8"), len(piece) - cut, False
        except UnicodeError:
            if len(piece) < limit * 4:
                break  # the whole of it, and not UTF-8
    piece = piece[: limit + 1]
    return "".join([chr(b) for b in piece]), len(piece), True


def clip_repr(value, limit=CLIP):
    """A value as %r shows it, clipped (see clip): texts in quotes, escaped."""
    if isinstance(value, (str, bytes, bytearray)):
        return clip(value, limit, "'")
    return clip(repr(value), limit)


class SunshiftError(Exception):
    """Base of every error sunshift raises on purpose."""


class Problem:
    """One finding in a user's file: where it is, what it says, and how bad it is."""

    def __init__(self, path, line, col, message, warning=False):
        self.path = path
        self.line = line
        self.col = col
        self.message = message
        self.warning = warning

    def __str__(self):
        kind = "warning: " if self.warning else ""
        return "%s:%d:%d: %s%s" % (self.path, self.line, self.col, kind, self.message)


class RuleError(SunshiftError):
    """A rule set that cannot be loaded; ``problems`` lists every error found."""

    def __init__(self, problems):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class EvalError(SunshiftError):
    """An expression that cannot be computed from the values it got (a text where a
    number belongs, a division by zero)."""


class TransportError(SunshiftError):
    """A network call that failed: ``kind`` is one of timeout, refused, reset,
    tls, dns, closed, protocol, network; the message says what happened."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class DeviceError(SunshiftError):
    """A device that did not answer as it should, named with the endpoint asked.

    ``kind`` groups episodes for logging (a timeout that becomes a 401 is a new
    episode; the same timeout on every poll is not).  ``retry_after`` is how
    long a refused write should wait before the engine repeats it (None: the
    dispatcher's default), when the device says or its refusal needs a person.
    ``stale`` says the device's values are no longer true (Enode down): the
    runner makes its signals stale at once rather than when they age out.
    """

    def __init__(self, device, endpoint, message, kind="error", retry_after=None, stale=False):
        # Bounded and escaped whatever went in (the clips where a device's text
        # does are the first defence): the message goes to the log and the terminal.
        message = clip(message, MAX_MESSAGE)
        super().__init__("%s %s: %s" % (device, clip(endpoint, 2 * CLIP), message))
        self.device = device
        self.endpoint = endpoint
        self.message = message
        self.kind = kind
        self.retry_after = retry_after
        self.stale = stale


class ConfigError(SunshiftError):
    """A config or secrets file that cannot be used; the message names file and key."""


class ModuleMissing(SunshiftError):
    """A module the site needs is not on the board (it was deployed for another
    config); the message says to deploy again."""


class ValueRefused(SunshiftError):
    """A value a target does not take (checked before anything is sent)."""
