"""Random text into the parser: only the parser's own error type may come out."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sunshift.errors import RuleError
from sunshift.lang import ruleset

# Pieces of the language, so the random files reach deep into the parser
# rather than failing on their first character.
PIECES = [
    "rule",
    "let",
    "when",
    "until",
    "then",
    "else",
    "hold",
    "during",
    "priority",
    "stale",
    "after",
    "for",
    "and",
    "or",
    "not",
    "true",
    "false",
    "avg",
    "min",
    "max",
    "abs",
    "age",
    "round",
    "x",
    "surplus",
    "envoy.net_consumption",
    "evcc.loadpoints.1.mode",
    "1.4kW",
    "300W",
    "5m",
    "1h30m",
    "55%",
    "20°C",
    "07:00",
    "21:00",
    "0",
    "-",
    "+",
    "*",
    "/",
    "(",
    ")",
    ",",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    '"pv"',
    "pv",
    "\n",
    "\n  ",
    " ",
    "#",
    "'",
    '"',
    ".",
    "&&",
    "\x00",
    "é",
]


def compile_or_rule_error(text):
    try:
        ruleset.compile_sources([("fuzz.rules", text)])
    except RuleError as e:
        assert e.problems, "a RuleError must say what is wrong"
        for p in e.problems:
            assert p.line >= 1 and p.col >= 1 and p.message


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_random_text(text):
    compile_or_rule_error(text)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes(data):
    compile_or_rule_error(data)


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=80))
def test_random_token_soup(pieces):
    compile_or_rule_error(" ".join(pieces))


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.lists(st.sampled_from(PIECES), max_size=40))
def test_valid_rule_with_random_condition_and_values(condition, value):
    text = "let surplus = 1\nrule r\n  when %s\n  then evcc.loadpoints.1.mode = %s\n  else evcc.loadpoints.1.mode = off\n" % (
        " ".join(condition),
        " ".join(value),
    )
    compile_or_rule_error(text)
