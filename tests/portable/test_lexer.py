"""The tokenizer: numbers with units, times, names, texts, and where errors are."""

from sunshift import units
from sunshift.lang import lexer
from sunshift.lang.lexer import CLOCK, END, NAME, NUMBER, OP, STRING


def tokens(text):
    toks, errors = lexer.tokenize(text.encode())
    assert not errors, errors
    return [(t[0], t[1]) for t in toks]


def errors(text):
    src = text.encode()
    _, errs = lexer.tokenize(src)
    return ["%d:%d: %s" % (line, lexer.column(src, pos), message) for pos, line, message in errs]


def test_numbers_carry_exact_values_in_base_units():
    assert tokens("1.4kW")[0] == (NUMBER, (1400, units.POWER, "kW"))
    assert type(tokens("1.4kW")[0][1][0]) is int  # not 1400.0000000000002
    assert tokens("300W")[0] == (NUMBER, (300, units.POWER, "W"))
    assert tokens("12.5kWh")[0] == (NUMBER, (12500, units.ENERGY, "kWh"))
    assert tokens("55%")[0] == (NUMBER, (55, units.PERCENT, "%"))
    assert tokens("55°C")[0] == (NUMBER, (55, units.TEMPERATURE, "°C"))
    assert tokens("16A")[0] == (NUMBER, (16, units.CURRENT, "A"))
    assert tokens("0.1")[0] == (NUMBER, (0.1, units.NONE, ""))


def test_durations_in_seconds_and_in_parts():
    assert tokens("30s")[0][1][0] == 30
    assert tokens("2m")[0][1][0] == 120
    assert tokens("1h")[0][1][0] == 3600
    assert tokens("1h30m")[0][1][:2] == (5400, units.TIME)
    assert tokens("1.5m")[0][1][0] == 90
    assert tokens("1.5s")[0][1][0] == 1.5


def test_times_of_day():
    assert tokens("07:00-21:30")[:3] == [(CLOCK, 25200), (OP, "-"), (CLOCK, 77400)]
    assert tokens("24:00")[0] == (CLOCK, 86400)


def test_names_keep_their_dots_and_digits():
    assert tokens("evcc.loadpoints.1.mode = pv") == [
        (NAME, "evcc.loadpoints.1.mode"),
        (OP, "="),
        (NAME, "pv"),
        (END, None),
    ]


def test_operators_and_texts():
    assert [t[1] for t in tokens('a <= b != "x" >= ( ) , * / + -')][:-1] == ["a", "<=", "b", "!=", "x", ">=", "(", ")", ",", "*", "/", "+", "-"]
    assert tokens(r'"say \"hi\" \\ ok"')[0] == (STRING, 'say "hi" \\ ok')
    assert tokens("'single'")[0] == (STRING, "single")
    assert tokens('"Wärme °C"')[0] == (STRING, "Wärme °C")


def test_comments_and_first_on_line():
    toks, errs = lexer.tokenize(b"rule a # note\n  when x.y > 1\n    and z.w < 2\n")
    assert not errs
    first = [(t[1], t[4]) for t in toks if t[0] != END]
    assert first[:5] == [("rule", True), ("a", False), ("when", True), ("x.y", False), (">", False)]
    assert [t[1] for t in toks if t[4] and t[0] != END] == ["rule", "when", "and"]
    assert [t[3] for t in toks if t[0] == NAME] == [1, 1, 2, 2, 3, 3]


def test_unit_mistakes_get_suggestions():
    assert errors("x > 1kw") == ["1:6: unknown unit 'kw'; did you mean 'kW'?"]
    assert errors("x > 5min3") == ["1:9: only durations can be written in parts, like 1h30m"]
    assert errors("x > 5parsecs")[0].startswith("1:6: unknown unit 'parsecs'; units are W, kW")
    assert errors("x > 1kW30W") == ["1:8: unexpected '3' after the number"]


def test_bad_characters_are_named_with_their_column():
    assert errors("a && b") == ["1:3: write 'and' instead of '&&'", "1:4: write 'and' instead of '&&'"]
    assert errors("x ! y") == ["1:3: write 'not' instead of '!' (and '!=' for 'not equal')"]
    assert errors("ok\n  é") == ["2:3: unexpected character 'é'"]
    # Columns count characters, not bytes: '°' is two bytes in UTF-8.
    assert errors('"°°°" $') == ["1:7: unexpected character '$'"]
    assert errors("a\x00b") == ["1:2: unexpected control character (code 0); is this a text file?"]


def test_malformed_numbers_names_and_texts():
    assert errors("x > .5") == ["1:5: a number needs a digit before '.', like 0.5"]
    assert errors("x > 5.") == ["1:6: a number needs a digit after '.', like 1.0"]
    assert errors("envoy. > 1") == ["1:6: a name cannot end with '.'"]
    assert errors('x = "open') == ['1:5: text is missing its closing "']
    assert errors("at 25:00") == ["1:4: '25:00' is not a time of day (00:00 to 24:00)"]
    assert errors("at 7:5") == ["1:4: a time of day is written HH:MM, like 07:30"]
    assert errors("x > 1234567890123456789") == ["1:5: number is too long (more than 15 digits)"]
