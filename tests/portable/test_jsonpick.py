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


def test_a_body_that_is_not_json_is_shown_escaped_and_clipped():
    forged = b"oops\n2026-01-01 fake log line\x1b[31m" + b"x" * 3000
    shown = jsonpick.describe_body(forged)
    assert shown == "the text 'oops\\n2026-01-01 fake log line\\x1b[31m" + "x" * 22 + "…'"
    e = raises(JsonError, jsonpick.loads, forged)
    assert str(e) == "not JSON but " + shown


class Chunks:
    """A stream that hands out ``data`` a few bytes per readinto, as a socket may."""

    def __init__(self, data, size):
        self.data = data
        self.size = size
        self.at = 0
        self.reads = 0

    def readinto(self, buf):
        piece = self.data[self.at : self.at + min(self.size, len(buf))]
        buf[: len(piece)] = piece
        self.at += len(piece)
        self.reads += 1
        return len(piece)


DOCS = [
    b'{"a": 1, "b": [1.5, -2e3, true, false, null, "x\\"y\\u00e9"], "c": {"d": {"e": 5}}, "skip": {"big": [1, 2, {"z": "w"}]}}',
    b'  {"production": [{"type": "eim", "wNow": 4200.5, "lines": [{"wNow": 1}, {"wNow": -2}]}], "k\\\\": "\\\\\\\\", "q": "\\"\\\\\\""}  ',
    b"[" + b", ".join(b'{"n": %d, "t": "%s", "u": "caf\xc3\xa9 \xe2\x82\xac"}' % (k, b"x" * (k * 37 % 700)) for k in range(30)) + b"]",
]


def test_a_stream_gives_what_the_whole_body_gives_however_it_is_cut():
    for doc in DOCS:
        for keep in (None, {"a", "c", "d", "production", "type", "lines", "wNow", "q", "n", "u"}):
            whole = jsonpick.loads(doc, keep)
            for size in (1, 2, 3, 7, 64, 511, 512, 4096):
                assert jsonpick.load(Chunks(doc, size), keep) == whole, (doc[:30], keep, size)


def test_each_object_of_a_list_is_handed_over_as_it_is_read_and_not_kept():
    # evcc's tariff: {"rates": [{...}, ...]}; the slots go to `each`, the list stays empty.
    doc = b'{"rates": [' + b", ".join(b'{"start": "s%d", "end": "e%d", "value": %d.5, "other": [1, 2]}' % (k, k, k) for k in range(40)) + b'], "n": 40}'
    for size in (1, 7, 512):
        seen = []
        answer = jsonpick.load(Chunks(doc, size), {"rates", "start", "end", "value", "n"}, seen.append)
        assert answer == {"rates": [], "n": 40}
        assert seen[0] == {"start": "s0", "end": "e0", "value": 0.5} and seen[-1]["value"] == 39.5 and len(seen) == 40
    # A list of lists is kept as it is: only objects go to `each`.
    seen = []
    assert jsonpick.loads(b"[[1, 2, 0.3], [2, 3, 0.4]]", None, False, seen.append) == [[1, 2, 0.3], [2, 3, 0.4]] and seen == []


def test_a_stream_is_read_through_one_small_buffer():
    doc = DOCS[2]
    stream = Chunks(doc, 100000)
    jsonpick.load(stream, {"n"})
    assert len(doc) > 8000 and stream.reads >= len(doc) // jsonpick.BUFFER  # a buffer at a time


def test_a_stream_says_the_same_errors():
    cases = [
        (b'{"wNow": 1', "truncated JSON: it ends after 10 bytes"),
        (b"<html><body>401 Unauthorized</body></html>", "not JSON but an HTML page"),
        (b"", "not JSON but an empty body"),
        (b'{"a": "\xff\xfe"}', "text that is not UTF-8 at byte 7"),
        (b'{"\xff\xfeskipped": 1, "kept": 2}', "text that is not UTF-8 at byte 2"),
        (b'{"a": "caf\xc3', "text that is not UTF-8 at byte 10"),
        (b"[1, 2,]", "expected a value at byte 6 (found ])"),
        (b'{"a" 1}', "expected ':' after a key at byte 5 (found 1)"),
        (b'{"a": 1} trailing', "unexpected data after the JSON value at byte 9 (found t)"),
        (b'{"a": tru', "truncated JSON"),
        (b'{"a": "' + b"x" * (jsonpick.MAX_TEXT + 1) + b'"}', "a text longer than %d bytes at byte 7" % jsonpick.MAX_TEXT),
        (b'{"a": ' + b"1" * 600 + b"}", "a value longer than 512 bytes"),
    ]
    for data, message in cases:
        for size in (1, 5, 4096):
            e = raises(JsonError, jsonpick.load, Chunks(data, size))
            assert message in str(e), (data[:40], size, str(e))
    # A long text nobody keeps is skipped, not refused.
    assert jsonpick.load(Chunks(b'{"a": "' + b"x" * 20000 + b'", "b": 2}', 300), {"b"}) == {"b": 2}


class Endless:
    """A body of `[0,0,0,...` that never ends (here: until 1 MB, where the HTTP
    size limit would be): what a broken or hostile device streams."""

    def __init__(self):
        self.given = 0

    def readinto(self, buf):
        if self.given > 1024 * 1024:
            return 0
        if self.given == 0:
            buf[0] = 91  # [
            self.given = 1
            return 1
        n = len(buf) - len(buf) % 2
        buf[:n] = b"0," * (n // 2)
        self.given += n
        return n


def test_an_answer_of_endless_values_stops_at_the_most_kept():
    # Before: two million numbers built up to the HTTP size limit (tens of MB on a PC).
    stream = Endless()
    error = raises(JsonError, jsonpick.load, stream)
    assert "more than %d values" % jsonpick.MAX_KEPT in str(error)
    assert stream.given < 4 * jsonpick.MAX_KEPT
    # What is not kept is not counted: a big answer whose few wanted keys are read.
    skipped = b'{"slots": [' + b"1," * (jsonpick.MAX_KEPT + 10) + b'1], "price": 0.3}'
    assert jsonpick.loads(skipped, {"price"}) == {"price": 0.3}
