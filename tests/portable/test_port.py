"""The portable layer behaves the same on CPython and MicroPython."""

from sunshift import port
from support import raises, scratch


def test_ticks_wrap_at_the_documented_period():
    # ticks_add wraps at TICKS_PERIOD on this interpreter, as the constant says.
    assert port.ticks_add(0, -1) == port.TICKS_PERIOD - 1
    assert port.ticks_add(port.TICKS_PERIOD - 1, 1) == 0


def test_ticks_diff_across_the_wrap():
    before = port.TICKS_PERIOD - 5
    after = port.ticks_add(before, 10)
    assert after == 5
    assert port.ticks_diff(after, before) == 10
    assert port.ticks_diff(before, after) == -10
    # Naive subtraction would give a huge negative number here.
    assert after - before < 0


def test_ticks_move_forward():
    a = port.ticks_ms()
    port.sleep_ms(2)
    assert port.ticks_diff(port.ticks_ms(), a) >= 1


def test_monotonic_counts_whole_seconds_through_a_wrap():
    readings = [port.TICKS_PERIOD - 1500, port.TICKS_PERIOD - 400, 700, 1700, 600000 + 1700]
    clock = port.Monotonic(ticks=lambda: readings.pop(0))
    assert clock.read() == 1  # 1.1 s
    assert clock.read() == 2  # 2.2 s, across the wrap
    assert clock.read() == 3  # 3.2 s
    last = clock.read()
    assert last == 603 and type(last) is int


def test_wall_clock_is_unix_time_on_every_board():
    # The epoch offset turns a board's 2000-based time into Unix time.
    assert port.unix_time() > 1700000000
    assert port.utc_parts(946684800) == (2000, 1, 1, 0, 0, 0)
    assert port.format_utc(0) == "1970-01-01 00:00:00"
    assert port.format_utc(1790000000) == "2026-09-21 14:13:20"


def test_write_atomic_replaces_the_file_whole():
    path = scratch("atomic.txt")
    port.write_atomic(path, "first version, longer than the second")
    port.write_atomic(path, "second °C")
    assert port.read_text(path) == "second °C"
    assert port.file_size(port.join(path.rsplit("/", 1)[0], path.rsplit("/", 1)[1])) == len("second °C".encode())
    assert port.file_size(path + ".tmp") is None
    port.remove(path)
    assert port.file_size(path) is None
    port.remove(path)  # already gone: no error


def test_is_dir_and_list_dir():
    path = scratch("folder")
    try:
        import os

        os.mkdir(path)
    except OSError:
        pass
    port.write_atomic(port.join(path, "b.rules"), "")
    port.write_atomic(port.join(path, "a.rules"), "")
    assert port.is_dir(path)
    assert not port.is_dir(port.join(path, "a.rules"))
    assert not port.is_dir(path + "-missing")
    names = port.list_dir(path)
    assert names.index("a.rules") < names.index("b.rules")


def test_join():
    assert port.join("rules", "a.rules") == "rules/a.rules"
    assert port.join("rules/", "a.rules") == "rules/a.rules"
    assert port.join("", "a.rules") == "a.rules"


def test_json_round_trip_and_errors():
    assert port.json_loads(port.json_dumps({"w": 1.5, "on": True})) == {"w": 1.5, "on": True}
    raises(ValueError, port.json_loads, '{"truncated": ')
    raises(ValueError, port.json_loads, "<html>Error</html>")


def test_log_filters_by_level_and_names_the_source():
    lines = []
    log = port.Log(level=port.INFO, sink=lines.append, stamp=lambda: "T")
    log.debug("envoy", "not shown")
    log.info("envoy", "polled")
    log.warn("evcc", "slow")
    log.error("emsesp", "401")
    assert lines == ["T INFO envoy: polled", "T WARN evcc: slow", "T ERROR emsesp: 401"]


def test_float_arrays_use_the_interpreters_float():
    assert port.FLOAT_TYPECODE in ("d", "f")
    from array import array

    a = array(port.FLOAT_TYPECODE, [0.1])
    assert abs(a[0] - 0.1) < 1e-6


def test_backend_names_a_missing_transport():
    port.BACKENDS["nothing"] = ("sunshift.no_such_backend",)
    try:
        e = raises(ImportError, port.backend, "nothing")
        assert "sunshift.no_such_backend" in str(e)
    finally:
        del port.BACKENDS["nothing"]
