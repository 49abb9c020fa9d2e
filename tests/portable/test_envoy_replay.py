"""The Envoy reader on every captured variant, replayed without sockets: the same
figures as over HTTP, on both interpreters."""

from replay import ReplaySession, corpus

from sunshift.devices import envoy
from sunshift.errors import DeviceError
from support import raises


def test_every_variant_gives_the_expected_figures():
    checked = 0
    for variant in corpus.variants():
        reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=ReplaySession(variant))
        got = reader.poll()
        w = corpus.expected(variant)
        assert sorted(got) == sorted(w), (variant, got, w)
        for name in w:
            assert abs(got[name] - w[name]) <= 1, (variant, name, got[name], w[name])
        checked += 1
    assert checked == 28


def test_the_probe_then_polls_only_what_it_needs():
    session = ReplaySession("7.6.175_with_cts")
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=session)
    reader.poll()
    probed = len(session.requests)
    reader.poll()
    assert session.requests[probed:] == [("GET", "/production.json?details=1")]
    assert reader.plan.production == envoy.REPORT and reader.plan.consumption == envoy.REPORT


def test_only_the_figures_the_rules_read_are_kept():
    reader = envoy.Envoy("meter", "https://envoy.local", "test-envoy-token", session=ReplaySession("8.3.5167_3rd-pv"))
    everything = reader.poll()
    assert len(everything) > 3 and "meter.net_consumption" in everything  # `read` asks for all (wanted is empty)
    reader = envoy.Envoy("meter", "https://envoy.local", "test-envoy-token", session=ReplaySession("8.3.5167_3rd-pv"))
    reader.wanted = ["evcc.site.battery.soc", "meter.net_consumption"]
    for _ in range(2):
        assert reader.poll() == {"meter.net_consumption": everything["meter.net_consumption"]}
    assert reader.names == {"net_consumption": "meter.net_consumption"}  # no names kept for the rest


def test_repeated_failures_bring_a_new_probe():
    session = ReplaySession("7.6.175_with_cts")
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=session)
    reader.poll()
    session.fault = "timeout"
    for _ in range(envoy.REPROBE_AFTER):
        e = raises(DeviceError, reader.poll)
        assert e.kind == "timeout"
    session.fault = None
    before = len(session.requests)
    reader.poll()
    assert ("GET", "/info") in session.requests[before:]  # probed again


def test_a_wrong_token_says_so_without_showing_it():
    reader = envoy.Envoy("envoy", "https://envoy.local", "expired-token-123", session=ReplaySession("8.1.41"))
    e = raises(DeviceError, reader.poll)
    assert e.kind == "auth"
    assert str(e) == "envoy probe: token rejected or expired (HTTP 401); " + envoy.AUTH_HINT
    assert "expired-token-123" not in str(e)


def test_firmware_and_info():
    assert envoy.firmware_tuple("D8.2.4264") == (8, 2, 4264)
    assert envoy.firmware_tuple("R3.9.36") == (3, 9, 36)
    assert envoy.firmware_tuple("") == ()
    info = envoy.parse_info(corpus.read("8.3.5433_tot_is_net_cons", "info"))
    assert info == {"firmware": "D8.3.5433", "version": (8, 3, 5433), "imeter": True}


def test_the_html_page_of_firmware_3():
    assert envoy.scrape_html(corpus.read("3.7.0", "production")) == 6630
    assert envoy.scrape_html(corpus.read("3.9.36", "production")) == 0
    assert envoy.scrape_html(b"<html>no figures</html>") is None


def test_api_v1_known_broken_cases():
    v1 = {"wattsNow": 100, "wattHoursToday": 0, "wattHoursSevenDays": 0, "wattHoursLifetime": 0}
    assert not envoy.v1_usable(v1, {}, {})
    v1["wattHoursToday"] = 5
    assert envoy.v1_usable(v1, {"imeter": True, "version": (8, 2, 4263)}, {})
    assert not envoy.v1_usable(v1, {"imeter": True, "version": (8, 2, 4264)}, {})
    assert envoy.v1_usable(v1, {"imeter": True, "version": (8, 2, 4264)}, {"production": 1})


def test_garbage_in_a_number_is_a_bad_answer():
    report = {"production": [{"type": "eim", "measurementType": "production", "activeCount": 1, "wNow": "1.2kW"}]}
    e = raises(ValueError, envoy._watts, report["production"][0]["wNow"], "production wNow")
    assert "not a number of watts" in str(e)
