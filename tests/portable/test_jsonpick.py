"""The picky JSON reader: the same values as json where it keeps them, clear errors where it cannot."""

from sunshift import jsonpick
from sunshift.jsonpick import JsonError
from support import raises


def test_values_and_keeping_only_some_keys():
    text = b'{"a": 1, "b": [1.5, -2e3, true, false, null, "x\\"y\\u00e9"], "c": {"d": {"e": 5}}, "skip": {"big": [1, 2, {"z": "w"}]}}'
    assert jsonpick.loads(text) == {"a": 1, "b": [1.5, -2000.0, True, False, None, 'x"yé'], "c": {"d": {"e": 5}}, "skip": {"big": [1, 2, {"z": "w"}]}}
    assert jsonpick.loads(text, {"a", "c", "d"}) == {"a": 1, "c": {"d": {}}}
    assert jsonpick.loads("[]") == [] and jsonpick.loads(" {} ") == {}


def test_errors_say_what_and_where():
    cases = [
        (b'{"wNow": 1', "truncated JSON: it ends after 10 bytes"),
        (b"<html><body>401 Unauthorized</body></html>", "not JSON but an HTML page"),
        (b"Error: 401", "not JSON but the text 'Error: 401'"),
        (b"", "not JSON but an empty body"),
        (b'{"a": "\xff\xfe"}', "text that is not UTF-8 at byte 7"),
        (b'{"\xff\xfeskipped": 1, "kept": 2}', "text that is not UTF-8 at byte 2"),
        (b"[1, 2,]", "expected a value at byte 6 (found ])"),
        (b'{"a" 1}', "expected ':' after a key at byte 5 (found 1)"),
        (b'{"a": 1} trailing', "unexpected data after the JSON value at byte 9 (found t)"),
        (b"[" * 40 + b"]" * 40, "nested too deeply"),
    ]
    for data, message in cases:
        e = raises(JsonError, jsonpick.loads, data)
        assert message in str(e), (data, str(e))


def test_describe_body():
    assert jsonpick.describe_body(b"  <!DOCTYPE html><html>") == "an HTML page"
    assert jsonpick.describe_body(b"\xff\xfe") == "bytes that are not text"
