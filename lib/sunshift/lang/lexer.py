"""The hand-written tokenizer of the rule language.

It reads UTF-8 *bytes*, not str: MicroPython keeps str as UTF-8 and indexing a
non-ASCII str walks it from the start, so a rule file with one '°C' or a German
comment would tokenize in quadratic time on a board.  Bytes index in constant
time on both interpreters; only names, texts and units are decoded.

A token is a tuple ``(kind, value, pos, line, first_on_line)``, ``pos`` being a
byte offset (see :func:`column`).  The parser needs ``first_on_line`` because a
clause keyword (``when``, ``then`` ...) only starts a clause at the beginning of
a line; elsewhere line breaks are spaces, so long conditions can wrap.
"""

from .. import units
from ..port import const

NAME = const(1)  # value: the name, with its dots ("evcc.loadpoints.1.mode")
NUMBER = const(2)  # value: (number, dimension, unit text)
STRING = const(3)  # value: the text
CLOCK = const(4)  # value: seconds after midnight ("07:30" -> 27000)
OP = const(5)  # value: the operator text
END = const(6)  # end of the file
BAD = const(7)  # stands where something could not be read, so parsing can go on

_NL = const(10)
_HASH = const(35)
_DOT = const(46)
_COLON = const(58)
_BACKSLASH = const(92)
_DEGREE_LEAD = const(0xC2)  # '°' is C2 B0 in UTF-8
_DEGREE_TAIL = const(0xB0)

_TWO_CHAR_OPS = (b"==", b"!=", b"<=", b">=")
_ONE_CHAR_OPS = b"<>=+-*/(),"
_MISTAKES = {
    38: "write 'and' instead of '&&'",  # &
    124: "write 'or' instead of '||'",  # |
    33: "write 'not' instead of '!' (and '!=' for 'not equal')",  # !
    59: "end a clause with a new line, not ';'",  # ;
    91: "use parentheses ( ), not brackets",  # [
    123: "use parentheses ( ), not braces",  # {
    58: "no ':' here: a clause needs none, and a target is set with '='",  # :
}
# Operators written the other way round: what to write instead.
_TURNED_OPS = {
    b"=>": "write '>=' for 'at least', not '=>'",
    b"=<": "write '<=' for 'at most', not '=<'",
    b"<>": "write '!=' for 'not equal', not '<>'",
    b"=!": "write '!=' for 'not equal', not '=!'",
}


def _is_letter(c):
    return (97 <= c <= 122) or (65 <= c <= 90) or c == 95


def _is_digit(c):
    return 48 <= c <= 57


def _is_word(c):
    return _is_letter(c) or _is_digit(c)


def _is_unit_byte(c):
    return _is_letter(c) or c == 37 or c == _DEGREE_LEAD or c == _DEGREE_TAIL


def column(src, pos):
    """1-based column, in characters, of byte offset ``pos`` in UTF-8 ``src``."""
    start = src.rfind(b"\n", 0, pos) + 1
    count = 1
    for i in range(start, pos):
        if src[i] & 0xC0 != 0x80:  # not a UTF-8 continuation byte
            count += 1
    return count


def _char_at(src, pos):
    """The whole (possibly multi-byte) character that starts at ``pos``."""
    end = pos + 1
    while end < len(src) and src[end] & 0xC0 == 0x80:
        end += 1
    try:
        return src[pos:end].decode("utf-8")
    except UnicodeError:
        return "\\x%02x" % src[pos]


class _Lexer:
    def __init__(self, src):
        self.src = src
        self.n = len(src)
        self.i = 0
        self.line = 1
        self.tokens = []
        self.errors = []  # (pos, line, message)
        self.first = True

    def error(self, pos, message):
        self.errors.append((pos, self.line, message))
        # A stand-in token keeps the parser in step with the line: its own
        # complaints about this line are dropped, the rest of the file is checked.
        self.add(BAD, None, pos)

    def add(self, kind, value, start):
        self.tokens.append((kind, value, start, self.line, self.first))
        self.first = False

    def run(self):
        src = self.src
        while self.i < self.n:
            c = src[self.i]
            if c == _NL:
                self.i += 1
                self.line += 1
                self.first = True
            elif c == 32 or c == 9 or c == 13:  # space, tab, CR
                self.i += 1
            elif c == _HASH:
                end = src.find(b"\n", self.i)
                self.i = self.n if end < 0 else end
            elif _is_digit(c):
                self.number()
            elif _is_letter(c):
                self.name()
            elif c == 34 or c == 39:  # " or '
                self.string(c)
            elif src[self.i : self.i + 2] in _TURNED_OPS:
                self.error(self.i, _TURNED_OPS[src[self.i : self.i + 2]])
                self.i += 2
            elif src[self.i : self.i + 2] in _TWO_CHAR_OPS:
                self.add(OP, src[self.i : self.i + 2].decode(), self.i)
                self.i += 2
            elif c in _ONE_CHAR_OPS:
                self.add(OP, chr(c), self.i)
                self.i += 1
            else:
                self.unexpected(c)

    def unexpected(self, c):
        hint = _MISTAKES.get(c)
        if hint:
            self.error(self.i, hint)
        elif c == _DOT:
            self.error(self.i, "a number needs a digit before '.', like 0.5")
        elif c < 32 or c == 127:
            self.error(self.i, "unexpected control character (code %d); is this a text file?" % c)
        else:
            self.error(self.i, "unexpected character '%s'" % _char_at(self.src, self.i))
        self.i += 1
        while self.i < self.n and self.src[self.i] & 0xC0 == 0x80:
            self.i += 1

    def digits(self, i):
        while i < self.n and _is_digit(self.src[i]):
            i += 1
        return i

    def number(self):
        src = self.src
        start = self.i
        i = self.digits(start)
        if i < self.n and src[i] == _COLON:  # "07:30" is a time of day
            self.clock(start, i)
            return
        total = 0
        dimension = units.NONE
        unit_text = ""
        part = start
        while True:
            if i < self.n and src[i] == _DOT:
                j = self.digits(i + 1)
                if j == i + 1:
                    self.error(i, "a number needs a digit after '.', like 1.0")
                    self.i = j
                    return
                i = j
            digits = src[part:i].decode()
            if len(digits) > units.MAX_DIGITS:
                self.error(part, "number is too long (more than %d digits)" % units.MAX_DIGITS)
                self.i = i
                return
            u = i
            while u < self.n and _is_unit_byte(src[u]):
                u += 1
            if src[u : u + 4] == b"/kWh" and src[i:u] in (b"", b"ct", b"g"):
                u += 4  # a price (0.3/kWh, 30ct/kWh) or a CO2 intensity (400g/kWh)
            try:
                unit = src[i:u].decode()
            except UnicodeError:
                unit = "?"
            if not unit and part == start:
                u, unit = self.spaced_unit(start, i)
            if not unit:
                factor, dim = 1, units.NONE
            elif unit in units.UNITS:
                factor, dim = units.UNITS[unit]
            else:
                guess = units.suggest_unit(unit)
                if guess:
                    self.error(i, "unknown unit '%s'; did you mean '%s'?" % (unit, guess))
                else:
                    self.error(i, "unknown unit '%s'; units are %s" % (unit, units.UNIT_LIST))
                self.i = u
                return
            if part > start and (dim != units.TIME or dimension != units.TIME):
                self.error(part, "only durations can be written in parts, like 1h30m")
                self.i = u
                return
            total += units.scale(digits, factor)
            dimension = dim
            unit_text += unit
            i = u
            # "1h30m": digits right after a time unit continue the duration.
            if dim == units.TIME and i < self.n and _is_digit(src[i]):
                part = i
                i = self.digits(i)
                continue
            break
        if i < self.n and (_is_word(src[i]) or src[i] == _DOT):
            self.error(i, "unexpected '%s' after the number" % chr(src[i]))
        self.add(NUMBER, (total, dimension, unit_text), start)
        self.i = i

    def spaced_unit(self, start, end):
        """After a number without a unit: if a unit follows a space ('1.4 kW'),
        report it and return where it ends and the unit meant, for the number to
        take; else ``(end, "")``."""
        src = self.src
        j = end
        while j < self.n and (src[j] == 32 or src[j] == 9):
            j += 1
        u = j
        while u < self.n and _is_unit_byte(src[u]):
            u += 1
        if u == j or j == end or (u < self.n and (_is_digit(src[u]) or src[u] == _DOT)):
            return end, ""
        try:
            word = src[j:u].decode()
        except UnicodeError:
            return end, ""
        unit = word if word in units.UNITS else units.suggest_unit(word)
        if not unit:
            return end, ""
        # Not self.error: the number keeps its unit, so the rest of the line is read as meant.
        self.errors.append((j, self.line, "write %s%s, without a space between the number and its unit" % (src[start:end].decode(), unit)))
        return u, unit

    def clock(self, start, colon):
        end = self.digits(colon + 1)
        self.i = end
        text = self.src[start:end].decode()
        hours = text[: colon - start]
        minutes = text[colon - start + 1 :]
        if len(hours) > 2 or len(minutes) != 2:
            self.error(start, "a time of day is written HH:MM, like 07:30")
            return
        h = int(hours)
        m = int(minutes)
        if m > 59 or h > 24 or (h == 24 and m != 0):
            self.error(start, "'%s' is not a time of day (00:00 to 24:00)" % text)
            return
        self.add(CLOCK, h * 3600 + m * 60, start)

    def name(self):
        src = self.src
        start = self.i
        i = start + 1
        while True:
            while i < self.n and _is_word(src[i]):
                i += 1
            if i < self.n and src[i] == _DOT:
                if i + 1 < self.n and _is_word(src[i + 1]):
                    i += 1
                    continue
                self.error(i, "a name cannot end with '.'")
                i += 1
            break
        self.add(NAME, src[start:i].decode(), start)
        self.i = i

    def string(self, quote):
        src = self.src
        start = self.i
        i = start + 1
        parts = []
        chunk = i
        while True:
            if i >= self.n or src[i] == _NL:
                self.error(start, "text is missing its closing %s" % chr(quote))
                self.i = i
                return
            c = src[i]
            if c == quote:
                break
            if c == _BACKSLASH and i + 1 < self.n and (src[i + 1] == quote or src[i + 1] == _BACKSLASH):
                parts.append(src[chunk:i])
                chunk = i + 1
                i += 2
                continue
            i += 1
        parts.append(src[chunk:i])
        self.add(STRING, b"".join(parts).decode(), start)
        self.i = i + 1


def tokenize(src):
    """Tokens of the UTF-8 bytes ``src``, and a list of (pos, line, message) for
    what could not be read.  The last token is always END."""
    lexer = _Lexer(src)
    lexer.run()
    lexer.tokens.append((END, None, lexer.n, lexer.line, True))
    return lexer.tokens, lexer.errors
