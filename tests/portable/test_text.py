"""Values and names read from text: payloads, 'did you mean', aliases, UTF-8."""

from sunshift.text import close_to, is_alias, text_value, utf8_error


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
