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
        w = corpus.expected_readings(variant) or corpus.expected(variant)
        got = corpus.power(reader.poll(), w)
        assert sorted(got) == sorted(w), (variant, got, w)
        for name in w:
            assert abs(got[name] - w[name]) <= 1, (variant, name, got[name], w[name])
        checked += 1
    assert checked == 28


def test_the_probe_then_polls_only_what_it_needs():
    session = ReplaySession("7.6.175_with_cts")
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=session)
    reader.wanted = ["envoy.net_consumption", "envoy.production"]
    reader.poll()
    probed = len(session.requests)
    reader.poll()
    assert session.requests[probed:] == [("GET", "/ivp/meters/readings")]
    assert reader.plan.production == envoy.READINGS and reader.plan.consumption == envoy.READINGS
    assert reader.plan.reading_keys == ("eid", "activePower")  # no phases, no counters: a board keeps less
    # Rules that read today's energy as well: the report too (probed again for them).
    reader.wanted = ["envoy.net_consumption", "envoy.production.today"]
    reader.poll()
    probed = len(session.requests)
    got = reader.poll()
    assert session.requests[probed:] == [("GET", "/ivp/meters/readings"), ("GET", "/production.json?details=1")]
    assert got == {"envoy.net_consumption": -36, "envoy.production.today": 4425}
    # Phases and counters the rules read: the channels and the counters are kept.
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=ReplaySession("8.2.4286_with_3cts_and_battery_split"))
    reader.wanted = ["envoy.total_consumption.L2", "envoy.export.lifetime"]
    assert reader.poll() == {"envoy.total_consumption.L2": 4508, "envoy.export.lifetime": 4173334}  # 3568.843 + 939.597 W
    assert "channels" in reader.plan.reading_keys and "actEnergyRcvd" in reader.plan.reading_keys


def test_without_a_production_ct_the_report_gives_the_figures():
    session = ReplaySession("7.6.175_with_cts", hide=("ivp_meters_readings",))
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=session)
    reader.wanted = ["envoy.net_consumption"]
    reader.poll()
    probed = len(session.requests)
    assert reader.poll() == {"envoy.net_consumption": -11}
    assert session.requests[probed:] == [("GET", "/production.json?details=1")]


# The batteries of the corpus, as pyenphase reads them: IQ Batteries (the
# ensemble's secctrl totals, each battery's power), AC Batteries (the report's
# storage section and the secctrl totals), a storage CT (its reading).
BATTERIES = {
    "7.3.517_system_2": {"power": -2032, "soc": 96, "energy": 9710, "capacity": 10080},
    "8.1.41": {"power": 40, "soc": 92, "energy": 9176, "capacity": 9920},
    "8.2.127_with_generator_running": {"power": -1250, "soc": 98, "energy": 3292, "capacity": 3360},
    "8.2.4286_with_3cts_and_battery_split": {"power": -7084, "soc": 46, "energy": 11600, "capacity": 25000},
    "8.2.4382_ACB_2": {"power": 0, "soc": 18, "energy": 446, "capacity": 412},
    "8.3.5169_ACB_inventory": {"power": -2, "soc": 0, "energy": 24, "capacity": 2480},
}


def test_the_home_battery_of_every_variant_that_has_one():
    for variant in corpus.variants():
        reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=ReplaySession(variant))
        got = reader.poll()
        battery = {}
        for name in got:
            if name.startswith("envoy.battery."):
                battery[name[14:]] = got[name]
        want = BATTERIES.get(variant)
        if want is None and variant in ("7.3.517", "7.3.517_legacy_savings_mode", "8.3.5167_3rd-pv"):
            assert sorted(battery) == ["capacity", "energy", "power", "soc"], (variant, battery)
            continue
        assert battery == (want or {}), (variant, battery)
    # Each IQ Battery on its own, from /ivp/ensemble/power (its list is spelt "devices:").
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=ReplaySession("7.3.517_system_2"))
    got = reader.poll()
    assert got["envoy.batteries.122031000212.power"] == -676 and got["envoy.batteries.122031000212.soc"] == 96


def test_the_battery_is_read_only_when_the_rules_read_it():
    session = ReplaySession("8.2.4286_with_3cts_and_battery_split")
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=session)
    reader.wanted = ["envoy.net_consumption"]
    reader.poll()
    assert not [r for r in session.requests if "ensemble" in r[1]]
    reader.wanted = ["envoy.net_consumption", "envoy.battery.soc"]
    assert reader.poll() == {"envoy.net_consumption": 1750, "envoy.battery.soc": 46}


def test_energy_counters():
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=ReplaySession("4.10.35"))
    got = reader.poll()
    # The CTs' own counters (the grid CT's delivered: imported, received: exported) and the report's today.
    assert got["envoy.import.lifetime"] == 16908209 and got["envoy.export.lifetime"] == 17357690
    assert got["envoy.production.lifetime"] == 26785327 and got["envoy.production.today"] == 139
    assert got["envoy.total_consumption.today"] == 7412
    # Firmware 8 counts no days in its consumption sections (0.0 today and over
    # the week); 8.3.5433 gives its lifetime as today: neither is today's energy.
    for variant in ("8.1.41", "8.3.5433_tot_is_net_cons"):
        got = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=ReplaySession(variant)).poll()
        assert "envoy.total_consumption.today" not in got, variant
    assert "envoy.production.today" not in got and got["envoy.production.lifetime"] == 14405466
    # No CT: the inverters' totals of /api/v1/production.
    got = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=ReplaySession("7.6.175")).poll()
    assert got["envoy.production.today"] == 7883 and got["envoy.production.lifetime"] == 8717473


def test_inverter_figures_are_as_old_as_their_last_report():
    # A metered unit whose CTs are off reads production from the inverters' section:
    # 63 s older than the CT sections of the same report (the Envoy's clock).
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=ReplaySession("7.3.466_metered_disabled_cts"))
    reader.wanted = ["envoy.production"]
    got = reader.poll()
    assert reader.plan.production == "inverters" and reader.age_of("envoy.production") == 63 and got["envoy.production"] > 0
    # Each inverter: only those the rules read, dated by lastReportDate against the wall clock.
    reader = envoy.Envoy("envoy", "https://envoy.local", "test-envoy-token", session=ReplaySession("7.6.175_with_cts"))
    reader.wanted = ["envoy.inverters.121823030072.power"]
    reader.unix_time = lambda: 1767225600  # 2026-01-01; the capture is of 2023-09-03
    got = reader.poll()
    assert list(got) == ["envoy.inverters.121823030072.power"] and reader.names == {"inverters.121823030072.power": "envoy.inverters.121823030072.power"}
    assert reader.age_of("envoy.inverters.121823030072.power") == 1767225600 - 1693745036
    reader.unix_time = lambda: 1000  # a board whose clock is not set: as fresh as the poll
    reader.poll()
    assert reader.age_of("envoy.inverters.121823030072.power") == 0 and reader.age_of("envoy.net_consumption") == 0


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
