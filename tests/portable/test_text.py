"""Values and names read from text: payloads, 'did you mean', aliases, UTF-8;
and a device's text as messages and log lines show it (errors.clip)."""

import gc

from sunshift import port, units
from sunshift.errors import MAX_LINE, MAX_MESSAGE, DeviceError, clip, clip_repr
from sunshift.lang import lexer
from sunshift.text import close_to, is_alias, parse_duration, text_value, utf8_error


def test_parse_duration():
    assert parse_duration("90s") == 90
    assert parse_duration("5m") == 300
    assert parse_duration("1h30m") == 5400
    assert parse_duration("1.5h") == 5400
    assert parse_duration(" 2m ") == 120
    assert parse_duration("5") is None
    assert parse_duration("5kW") is None
    assert parse_duration("soon") is None
    assert parse_duration("") is None


def _as_rules_read_it(text):
    """The duration a rule written with ``text`` holds, or None (the lexer's reading)."""
    tokens, errors = lexer.tokenize(text.encode("utf-8"))
    if errors or len(tokens) != 2 or tokens[0][0] != lexer.NUMBER or tokens[0][1][1] != units.TIME:
        return None
    return tokens[0][1][0]


def test_durations_read_as_rules_read_them():
    # The config and the command line take durations as rules write them.
    samples = ["90s", "5m", "5min", "1h30m", "1h30m15s", "0.5s", "1.25h", "2h5", "1m30", "5 m", "5m5", "-5m", "1e3s", ".5m", "5.m"]
    samples += ["07:30", "5ms", "5M", "5kW", "1h30kW", "12345678901234567s", "1234567890123s", "3d", "m", "", "  ", "5s#x", "5%", "5s #ok", "#5s"]
    for text in samples:
        assert parse_duration(text) == _as_rules_read_it(text), text


def test_text_values():
    assert text_value("1500") == 1500 and text_value(b"0.25") == 0.25
    assert text_value(" TRUE ") is True and text_value("false") is False
    assert text_value("inf") == "inf" and text_value("") is None and text_value(b"\xff") is None


def test_close_to():
    assert close_to("surplsu", ["surplus", "house"]) == "surplus"
    assert close_to("whn", ["when", "then"]) == "when"
    assert close_to("xyz", ["surplus"]) is None


def test_is_alias():
    assert is_alias("car") and is_alias("home_2") and is_alias("_x")
    assert not is_alias("2car") and not is_alias("my car") and not is_alias("") and not is_alias("café")


def test_utf8_error_finds_the_first_bad_byte():
    assert utf8_error("ok °C".encode()) is None
    assert utf8_error(b"ok\n\xff\xfe") == 3
    assert utf8_error(b"ab\xc3") == 2  # truncated sequence


# --- a device's text in messages and log lines --------------------------------

FORGED = "no\n2026-01-01 fake log line\x1b[31m"


def _safe(line):
    """True if ``line`` has no control character (C0, DEL, C1) nor line separator."""
    for c in line:
        o = ord(c)
        if o < 32 or 127 <= o < 160 or o == 0x2028 or o == 0x2029:
            return False
    return True


def test_clip_leaves_a_short_plain_text_as_it_is():
    assert clip("pv") == "pv" and clip("55.0 °C, Smith family") == "55.0 °C, Smith family"
    assert clip("pv", quote='"') == '"pv"' and clip("") == ""
    assert clip(b"Error: 401") == "Error: 401"
    assert clip(42) == "42"


def test_clip_cuts_a_long_text_and_says_its_full_length():
    title = "Envoy of the Smith family " + "x" * 100000
    assert clip(title, 24, "'") == "'Envoy of the Smith famil…' (100026 characters)"
    assert clip(title) == title[:120] + "… (100026 characters)"
    assert clip(title.encode(), 24) == "Envoy of the Smith famil… (100026 bytes)"
    assert clip(title, 10, "'", sample=True) == "'Envoy of t…'"  # the start of a body: its length is not known
    assert clip("x" * 120) == "x" * 120  # exactly the limit: nothing cut


def test_clip_escapes_every_control_character():
    assert clip(FORGED) == "no\\n2026-01-01 fake log line\\x1b[31m"
    assert clip("a\r\tb\x00c\x7fd") == "a\\r\\tb\\x00c\\x7fd"
    assert clip("C1 \x85 \x9b2J, separators \u2028 \u2029") == "C1 \\x85 \\x9b2J, separators \\u2028 \\u2029"
    assert clip("ok °C é €") == "ok °C é €"  # printable text is kept
    for k in range(0x2100):
        assert _safe(clip(chr(k))) and _safe(clip(chr(k), quote="'")), k


def test_clip_quotes_with_backslashes_and_the_quote_escaped():
    assert clip('say "hi" \\ ok', quote='"') == '"say \\"hi\\" \\\\ ok"'
    assert clip("it's", quote="'") == "'it\\'s'"
    assert clip('say "hi"') == 'say "hi"'  # unquoted: only control characters change


def test_clip_shows_at_most_its_limit_however_much_escaping_adds():
    shown = clip("\x1b" * 5000)
    assert shown.startswith("\\x1b" * 30 + "…") and shown.endswith(" (5000 characters)")
    assert len(shown) <= 120 + len("… (5000 characters)")
    assert clip("\x1b" * 30) == "\\x1b" * 30  # 120 shown: all of it


def test_clip_reads_bytes_that_are_not_utf8_or_cut_in_a_character():
    assert clip(b"ok\xff\xfe\x1b") == "ok\\xff\\xfe\\x1b"
    assert clip(b"\xff" * 300, 8) == "\\xff\\xff… (300 bytes)"
    euros = b"a" + "€".encode() * 200  # 601 bytes: the 480 looked at end inside a character
    assert clip(euros, 120) == "a" + "€" * 119 + "… (601 bytes)"
    assert clip(bytearray(b"a\nb")) == "a\\nb" and clip(memoryview(b"a\nb")) == "a\\nb"


def test_clip_repr_shows_values_as_repr_does_clipped():
    assert clip_repr("pv") == "'pv'" and clip_repr(5) == "5" and clip_repr(None) == "None" and clip_repr(2.5) == "2.5"
    assert clip_repr(FORGED) == "'no\\n2026-01-01 fake log line\\x1b[31m'"
    assert clip_repr("y" * 1000).endswith("…' (1000 characters)")
    assert clip_repr([1, 2]) == "[1, 2]"


def test_clip_copies_only_what_it_shows():
    big = "Envoy of the Smith family " + "x" * 200000
    small = big[:1000]
    mem_alloc = getattr(gc, "mem_alloc", None)
    if mem_alloc is not None:  # MicroPython: the heap itself
        gc.collect()
        before = mem_alloc()
        shown = clip(big)
        used = mem_alloc() - before
    else:  # CPython
        import tracemalloc

        tracemalloc.start()
        shown = clip(big)
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert shown == clip(small).replace("1000", "200026")
    assert used < 8000, used


def test_a_device_error_is_bounded_and_escaped_whatever_went_in():
    e = DeviceError("evcc", "POST /api/x\n" + "p" * 5000, FORGED + "m" * 5000)
    text = str(e)
    assert _safe(text) and "\\x1b[31m" in text
    assert len(e.message) <= MAX_MESSAGE + 30 and len(text) <= MAX_MESSAGE + 300
    assert e.message.endswith(" (%d characters)" % (len(FORGED) + 5000))
    assert str(DeviceError("evcc", "GET /api/state", "the device failed (HTTP 500)")) == "evcc GET /api/state: the device failed (HTTP 500)"


def test_the_log_writes_every_line_escaped_and_bounded():
    lines = []
    log = port.Log(sink=lines.append, stamp=lambda: "T")
    log.warn("evcc", FORGED)
    log.info("evcc", "set pv (ev: surplus 1.5 kW > 1.4 kW)")
    log.warn("evcc", "z" * 10000)
    assert lines[0] == "T WARN evcc: no\\n2026-01-01 fake log line\\x1b[31m"
    assert lines[1] == "T INFO evcc: set pv (ev: surplus 1.5 kW > 1.4 kW)"
    assert len(lines[2]) <= MAX_LINE + 30 and lines[2].endswith("… (%d characters)" % (len("T WARN evcc: ") + 10000))


def test_a_device_text_in_a_reason_is_clipped():
    assert units.format_value("pv") == '"pv"'
    shown = units.format_value(FORGED + "x" * 5000)
    assert shown.startswith('"no\\n2026-01-01 fake log line\\x1b[31mxxx') and shown.endswith('…" (%d characters)' % (len(FORGED) + 5000))
    assert len(shown) < 160
