"""Values and names read from text: payloads, 'did you mean', aliases, UTF-8."""

from sunshift import units
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
