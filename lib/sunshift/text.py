"""Reading values and names from text, shared by every layer: a payload or a
trace cell as a value, a duration as the config and the command line write
it, "did you mean", names that can be one part of a signal, and where bytes
stop being UTF-8.
"""

from . import units


def text_value(payload):
    """A value from text (an MQTT payload, a trace cell): number, true/false, text,
    or None when empty.  NaN and infinity stay text: they are not measurements."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeError:
            return None
    text = payload.strip()
    if text == "":
        return None
    low = text.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if value - value == 0 else text


def _digits_end(text, i):
    while i < len(text) and "0" <= text[i] <= "9":
        i += 1
    return i


def parse_duration(text):
    """Seconds for a duration written as in rules ('90s', '5m', '1.5h', '1h30m'),
    or None if ``text`` is not one.  Each part is digits, perhaps with decimals,
    and a unit of time (s, m, min, h); parts follow each other without spaces.
    As in a rule, '#' starts a comment.  (A board reads its config with this,
    not with the rule lexer, which it does not carry: tests/portable/test_text.py
    holds the two to the same reading.)"""
    cut = text.find("#")
    text = (text if cut < 0 else text[:cut]).strip()
    n = len(text)
    i = 0
    total = 0
    while True:
        start = i
        i = _digits_end(text, i)
        if i == start:
            return None
        if i < n and text[i] == ".":
            end = _digits_end(text, i + 1)
            if end == i + 1:
                return None
            i = end
        digits = text[start:i]
        if len(digits) > units.MAX_DIGITS:
            return None
        end = i
        while end < n and ("a" <= text[end] <= "z" or "A" <= text[end] <= "Z"):
            end += 1
        unit = units.UNITS.get(text[i:end])
        if unit is None or unit[1] != units.TIME:
            return None
        total += units.scale(digits, unit[0])
        i = end
        if i == n:
            return total
        if not "0" <= text[i] <= "9":
            return None


def close_to(word, choices):
    """The choice within two edits of ``word`` (for 'did you mean'), or None."""
    best = None
    for choice in choices:
        if abs(len(choice) - len(word)) > 2:
            continue
        prev = list(range(len(choice) + 1))
        for i in range(1, len(word) + 1):
            cur = [i] + [0] * len(choice)
            for j in range(1, len(choice) + 1):
                cost = 0 if word[i - 1] == choice[j - 1] else 1
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            prev = cur
        if prev[-1] <= 2 and prev[-1] < len(word):
            if best is None or prev[-1] < best[0]:
                best = (prev[-1], choice)
    return best[1] if best else None


def is_alias(text):
    """True for a name rules can use as one part of a signal: ASCII letters, digits, _."""
    if not text or "0" <= text[0] <= "9":
        return False
    for c in text:
        if not ("a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" or c == "_"):
            return False
    return True


def utf8_error(src):
    """Byte offset of the first invalid UTF-8 sequence in ``src``, or None if it is valid."""
    try:
        src.decode("utf-8")
        return None
    except UnicodeError:
        pass
    i = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            need = 1
        elif 0xE0 <= c <= 0xEF:
            need = 2
        elif 0xF0 <= c <= 0xF4:
            need = 3
        else:
            return i
        for k in range(1, need + 1):
            if i + k >= n or src[i + k] & 0xC0 != 0x80:
                return i
        try:
            src[i : i + need + 1].decode("utf-8")
        except UnicodeError:
            return i
        i += need + 1
    return 0


# --- times as devices write them -----------------------------------------------


def _days_from_civil(y, m, d):
    # Days since 1970-01-01 of a date in the proleptic Gregorian calendar.
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def unix_of(text):
    """Unix seconds of an RFC 3339 time ("2026-06-21T08:00:00+02:00", "...Z",
    with or without fractions of a second), or None if it is not one."""
    if not isinstance(text, str) or len(text) < 20 or text[4] != "-" or text[7] != "-" or text[10] not in "Tt " or text[13] != ":" or text[16] != ":":
        return None
    try:
        y, mo, d = int(text[0:4]), int(text[5:7]), int(text[8:10])
        h, mi, s = int(text[11:13]), int(text[14:16]), int(text[17:19])
    except ValueError:
        return None
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61):
        return None
    k = 19
    if k < len(text) and text[k] == ".":
        k += 1
        while k < len(text) and "0" <= text[k] <= "9":
            k += 1
    zone = text[k:]
    if zone in ("Z", "z"):
        offset = 0
    elif len(zone) == 6 and zone[0] in "+-" and zone[3] == ":" and zone[1:3].isdigit() and zone[4:6].isdigit():
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        if zone[0] == "-":
            offset = -offset
    else:
        return None
    return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset
