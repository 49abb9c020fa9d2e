"""The site config and secrets: what is accepted, and what each mistake says."""

from sunshift import port
from sunshift.site import config
from sunshift.site.config import ConfigError
from support import raises, scratch

GOOD = {"devices": {"envoy": {"url": "https://192.168.1.20", "insecure_tls": True, "stale_after": "30s"}, "evcc": {"url": "http://evcc.local:7070", "poll": 2}}}


def site(data, secrets=None):
    return config.Site(data, secrets or {}, "site.json")


def test_a_good_config_with_defaults_and_secrets():
    s = site(GOOD, {"envoy": {"token": "abc"}})
    assert s.devices["envoy"]["type"] == "envoy" and s.devices["envoy"]["token"] == "abc"
    assert s.devices["envoy"]["poll"] == 5 and s.devices["envoy"]["stale_after"] == 30
    assert s.devices["evcc"]["poll"] == 2 and s.devices["evcc"]["token"] is None
    assert s.rules == ["rules"] and s.stale_after == 120 and s.max_ages() == {"envoy": 30}


def test_mistakes_name_file_and_key():
    cases = [
        ({"devices": {"envoy": {"url": "x", "token": "abc"}}}, "site.json: devices.envoy.token: secrets go in the secrets file"),
        ({"devices": {"envoi": {"url": "x"}}}, "site.json: devices.envoi: unknown type None"),
        ({"devices": {"roof": {"type": "solar", "url": "x"}}}, "unknown type 'solar' (one of envoy, evcc, emsesp, enode)"),
        ({"devices": {"envoy": {"url": "x", "pol": 5}}}, "devices.envoy: unknown key 'pol'"),
        ({"devices": {"envoy": {}}}, 'devices.envoy: needs "url"'),
        ({"devices": {"evcc": {"transport": "mqtt"}}}, 'transport mqtt needs an "mqtt": {"host": ...} section'),
        ({"devices": {"envoy": {"url": "x", "poll": "soon"}}}, "devices.envoy.poll: 'soon' is not a duration"),
        ({"devices": {}}, "devices: list at least one device"),
        ({"devices": {"a.b": {"type": "envoy", "url": "x"}}}, "a device name has no dots"),
        ({"devices": {"envoy": {"url": "x"}}, "password": "p"}, "the top level.password: secrets go in the secrets file"),
    ]
    for data, message in cases:
        assert message in str(raises(ConfigError, site, data)), message


def test_files_with_comments_and_syntax_errors():
    path = scratch("site.json")
    port.write_atomic(path, '// my site\n{\n  "devices": {"envoy": {"url": "http://e"}}\n}\n')
    assert config.load(path, scratch("no-secrets.json")).devices["envoy"]["url"] == "http://e"
    port.write_atomic(path, '{\n  "devices": {"envoy": {"url": "http://e"}\n  "x": 1\n}\n')
    assert str(raises(ConfigError, config.load, path)) == path + ":3:3: expected ',' or '}'"
    assert "cannot read the config file" in str(raises(ConfigError, config.load, path + ".missing"))


def test_time_zones():
    assert port.parse_offset("+01:00") == 3600 and port.parse_offset("-05:30") == -19800
    raises(ValueError, port.parse_offset, "CET")
    noon_utc = 1782129600  # 2026-06-22 12:00 UTC
    assert port.time_of_day("UTC", noon_utc) == 12 * 3600
    assert port.time_of_day("+02:00", noon_utc) == 14 * 3600
    assert port.time_of_day("UTC", 1000) is None  # a board's clock before NTP
