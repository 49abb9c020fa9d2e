"""The site config and secrets: what is accepted, and what each mistake says.

One schema checks both files (site/config.py, each kind's CONFIG_KEYS); every
mistake is ``file: key: message`` when the config is read, never later.  The
cases of issue 15 (point 2) are here one by one; the file-level ones a board
cannot show (FIFOs, symbolic links, 50 MB) are in tests/host/test_cli_config.py."""

from sunshift import port
from sunshift.devices import kinds
from sunshift.site import config
from sunshift.site.config import ConfigError
from support import raises, scratch

GOOD = {"devices": {"envoy": {"url": "https://192.168.1.20", "insecure_tls": True, "stale_after": "30s"}, "evcc": {"url": "http://evcc.local:7070", "poll": 2}}}
ENVOY = {"url": "https://192.168.1.20"}
EMSESP = {"type": "emsesp", "url": "http://ems-esp.local"}
MQTT = {"host": "192.168.1.10"}


def site(data, secrets=None):
    return config.Site(data, secrets or {}, "site.json")


def refused(data, secrets=None):
    """The message of the ConfigError that ``data`` (and ``secrets``) make."""
    return str(raises(ConfigError, site, data, secrets))


def envoy(**keys):
    """A config with one Envoy whose entry has ``keys`` too."""
    return {"devices": {"envoy": dict(ENVOY, **keys)}}


def test_a_good_config_with_defaults_and_secrets():
    s = site(GOOD, {"envoy": {"token": "abc"}})
    assert s.devices["envoy"]["type"] == "envoy" and s.devices["envoy"]["token"] == "abc"
    assert s.devices["envoy"]["poll"] == 5 and s.devices["envoy"]["stale_after"] == 30
    assert s.devices["evcc"]["poll"] == 2 and s.devices["evcc"].get("token") is None
    assert s.rules == ["rules"] and s.stale_after == 120 and s.max_ages() == {"envoy": 30}
    assert s.timezone == "local" and s.log_level == "info" and s.mqtt is None
    assert site(dict(GOOD, rules=[])).rules == []  # a config only `read` uses names no rules


def test_mistakes_name_file_and_key():
    cases = [
        ({"devices": {"envoy": {"url": "http://x", "token": "abc"}}}, "site.json: devices.envoy.token: secrets go in the secrets file"),
        ({"devices": {"envoi": {"url": "http://x"}}}, "site.json: devices.envoi: unknown type None; did you mean 'envoy'?"),
        ({"devices": {"roof": {"type": "solar", "url": "http://x"}}}, "unknown type 'solar' (one of envoy, evcc, emsesp, enode)"),
        (
            {"devices": {"envoy": {"url": "http://x", "pol": 5}}},
            "site.json: devices.envoy: unknown key 'pol'; did you mean 'poll'? (known: poll, timeout, stale_after, url",
        ),
        ({"devices": {"envoy": {}}}, 'devices.envoy: needs "url"'),
        ({"devices": {"evcc": {"transport": "mqtt"}}}, 'transport mqtt needs an "mqtt": {"host": ...} section'),
        ({"devices": {"evcc": {"transport": "MQTT"}}}, "site.json: devices.evcc.transport: 'rest' or 'mqtt', not \"MQTT\"; did you mean 'mqtt'?"),
        ({"devices": {"envoy": {"url": "http://x", "poll": "soon"}}}, "devices.envoy.poll: 'soon' is not a duration"),
        ({"devices": {}}, "site.json: devices: list at least one device"),
        ({"devices": {"a.b": {"type": "envoy", "url": "http://x"}}}, "a device name has no dots"),
        ({"devices": {"envoy": {"url": "http://x"}}, "password": "p"}, "site.json: password: secrets go in the secrets file"),
        ({"devices": {"envoy": {"url": "http://x"}}, "rule": "r"}, "site.json: the top level: unknown key 'rule'; did you mean 'rules'?"),
        ({"devices": {"envoy": "http://x"}}, 'site.json: devices.envoy: an object { ... }, not "http://x"'),
        ({"devices": ["envoy"]}, 'site.json: devices: an object { ... }, not ["envoy"]'),
        ({"devices": {"envoy": ENVOY}, "mqtt": {"port": 1883}}, 'site.json: mqtt: needs at least {"host": "..."}'),
        ({"devices": {"envoy": ENVOY}, "mqtt": {"host": "b", "keepalve": 30}}, "site.json: mqtt: unknown key 'keepalve'; did you mean 'keepalive'?"),
        (envoy(timeout=0), "site.json: devices.envoy.timeout: 0 s is out of range"),
        (envoy(poll=-5), "site.json: devices.envoy.poll: -5 s is out of range"),
        (envoy(poll="2d"), "site.json: devices.envoy.poll: '2d' is not a duration"),
        (envoy(poll=True), "site.json: devices.envoy.poll: a duration: a number of seconds or a text like"),
        (dict(envoy(), state=""), "site.json: state: a text in quotes"),
    ]
    for data, message in cases:
        assert message in refused(data), (message, refused(data))


TRACEBACKS = [
    (envoy(url=12345), 'site.json: devices.envoy.url: a URL in quotes, like "http://192.168.1.20", not 12345'),
    (envoy(poll=1e308), "site.json: devices.envoy.poll: 1e+308 s is out of range: a duration from 0.05 s to 86400 s"),
    (dict(envoy(), timezone="Mars/Olympus"), 'site.json: timezone: "Mars/Olympus" is not a time zone: "local", "UTC" or an offset like "+01:00"'),
    (dict(envoy(), timezone=5), "site.json: timezone: 5 is not a time zone"),
    (dict(envoy(), timezone="+25:00"), 'site.json: timezone: "+25:00" is not a time zone'),
    (dict(envoy(), rules=42), 'site.json: rules: a rule file or folder in quotes, or a list of them, like "rules", not 42'),
    (dict(envoy(), rules=None), "site.json: rules: null is not a value here; leave the key out for its default"),
    (dict(envoy(), rules=["rules", 7]), "site.json: rules: a rule file or folder in quotes, not 7"),
    (dict(envoy(), mqtt={"host": "b", "port": "1883"}), 'site.json: mqtt.port: a whole number from 1 to 65535, not "1883" (a number, without quotes)'),
    (dict(envoy(), mqtt={"host": 127}), 'site.json: mqtt.host: a host name or address in quotes, like "192.168.1.10", not 127'),
    (dict(envoy(), mqtt={"host": "mqtt://b"}), 'site.json: mqtt.host: "mqtt://b" is not a host name or address: give the host alone'),
    (dict(envoy(), mqtt={"host": "b", "keepalive": "soon"}), "site.json: mqtt.keepalive: 'soon' is not a duration"),
    (dict(envoy(), mqtt={"host": "b", "keepalive": 0}), "site.json: mqtt.keepalive: 0 s is out of range: a duration from 1 s to 3600 s"),
]


def test_values_that_used_to_end_in_a_traceback_are_file_key_message():
    # Each of these raised AttributeError, OverflowError, TypeError or failed after the engine started.
    for data, message in TRACEBACKS:
        assert message in refused(data), (message, refused(data))
    # "30s" is a duration like any other: taken, as whole seconds on the wire.
    mqtt = site(dict(envoy(), mqtt={"host": "b", "keepalive": "30s"})).mqtt
    assert mqtt["keepalive"] == 30 and type(mqtt["keepalive"]) is int


ACCEPTED_WRONGLY = [
    (dict(envoy(), log_level="LOUD"), "site.json: log_level: 'debug', 'info', 'warn', 'warning' or 'error', not \"LOUD\""),
    (dict(envoy(), log_level="INFO"), "site.json: log_level: 'debug', 'info', 'warn', 'warning' or 'error', not \"INFO\"; did you mean 'info'?"),
    ({"devices": {"emsesp": dict(EMSESP, devices="boiler")}}, 'site.json: devices.emsesp.devices: a list like ["boiler"], not "boiler"'),
    ({"devices": {"emsesp": dict(EMSESP, devices=[1, 2])}}, "site.json: devices.emsesp.devices[0]: 'boiler', 'thermostat',"),
    ({"devices": {"emsesp": dict(EMSESP, devices=["boilr"])}}, "site.json: devices.emsesp.devices[0]: 'boiler', 'thermostat', 'mixer'"),
    ({"devices": {"emsesp": dict(EMSESP, devices=["boilr"])}}, "not \"boilr\"; did you mean 'boiler'?"),
    ({"devices": {"emsesp": dict(EMSESP, entities="boiler/dhw/curtemp")}}, 'site.json: devices.emsesp.entities: a list like ["boiler/dhw/curtemp"]'),
    ({"devices": {"emsesp": dict(EMSESP, entities=["curtemp"])}}, 'site.json: devices.emsesp.entities[0]: "curtemp" is not a path like "boiler/dhw/curtemp"'),
    (envoy(timeout=1e308), "site.json: devices.envoy.timeout: 1e+308 s is out of range: a duration from 0.1 s to 300 s"),
    (envoy(poll="48h"), "site.json: devices.envoy.poll: 172800 s is out of range: a duration from 0.05 s to 86400 s"),
    (envoy(stale_after=float("inf")), "site.json: devices.envoy.stale_after: inf s is out of range: a duration from 1 s to 86400 s"),
    (dict(envoy(), stale_after=float("inf")), "site.json: stale_after: inf s is out of range"),
    (envoy(url="ftp://192.168.1.20"), "site.json: devices.envoy.url: ftp:// is not a scheme sunshift speaks: http:// or https://"),
    (envoy(url="192.168.1.20"), 'site.json: devices.envoy.url: "192.168.1.20" has no http:// or https:// in front (like "http://192.168.1.20")'),
    (envoy(url="HTTP://192.168.1.20"), "site.json: devices.envoy.url: HTTP:// is not a scheme sunshift speaks: http:// or https:// (in lower case)"),
    (envoy(url="http://192.168.1.20:99999"), 'site.json: devices.envoy.url: "http://192.168.1.20:99999": the port "99999" is not a number from 1 to 65535'),
    (envoy(url="http://192.168.1.20:0"), 'the port "0" is not a number from 1 to 65535'),
    (envoy(url="http://:8080"), 'site.json: devices.envoy.url: "http://:8080" has no host'),
    (envoy(url="http://"), 'site.json: devices.envoy.url: "http://" has no host'),
    (envoy(url="http://admin:pw@192.168.1.20"), "site.json: devices.envoy.url: no user or password in the URL: they go in the secrets file"),
    (dict(envoy(), mqtt={"host": "b", "port": 99999}), "site.json: mqtt.port: a whole number from 1 to 65535, not 99999"),
    (dict(envoy(), mqtt={"host": "b", "port": 1883.0}), "site.json: mqtt.port: a whole number from 1 to 65535, not 1883"),
    ({"devices": {"evcc": {"url": "http://e", "topic": "evcc/#"}}}, 'site.json: devices.evcc.topic: "evcc/#": a topic here has no wildcards'),
]


def test_values_that_used_to_be_accepted_and_wrong():
    for data, message in ACCEPTED_WRONGLY:
        assert message in refused(data), (message, refused(data))
    good = {"devices": {"emsesp": dict(EMSESP, devices=["boiler"], entities=["thermostat/hc1/seltemp"])}}
    assert site(good).devices["emsesp"]["devices"] == ["boiler"]
    for url in ("http://192.168.1.20:8080/", "https://envoy.local", "http://[fd00::1]:8080", "http://evcc.local:7070/api?x=1"):
        assert site(envoy(url=url)).devices["envoy"]["url"] == url


def test_booleans_are_strictly_true_or_false():
    # "false" turned certificate checking off: any non-empty text counted as true.
    for value in ("false", "no", "0", "", 0, 1, None):
        message = refused(envoy(insecure_tls=value))
        assert message.startswith("site.json: devices.envoy.insecure_tls: "), message
        assert "true or false (JSON, without quotes)" in message or "null is not a value" in message, message
    assert site(envoy(insecure_tls=False)).devices["envoy"]["insecure_tls"] is False
    assert site(envoy(insecure_tls=True)).devices["envoy"]["insecure_tls"] is True


BAD_SECRETS = [
    ({"envoy": {"token": 12345}}, "secrets.json: envoy.token: a text in quotes; this is a number (its value is not shown)"),
    ({"envoy": {"token": {"jwt": "abc"}}}, "secrets.json: envoy.token: a text in quotes; this is not a text (its value is not shown)"),
    ({"envoy": {"tokn": "abc"}}, "secrets.json: envoy: unknown key 'tokn'; did you mean 'token'? (known: token)"),
    ({"evcc": {"token": "abc"}}, "secrets.json: evcc: unknown key 'token' (evcc takes no secrets)"),
    ({"evc": {"token": "abc"}}, "secrets.json: evc: no device of site.json has this name; did you mean 'evcc'?"),
    ({"emsesp": {"token": "abc"}}, "secrets.json: emsesp: no device of site.json has this name"),
    ({"mqtt": {"pasword": "p"}}, "secrets.json: mqtt: unknown key 'pasword'; did you mean 'password'?"),
    ({"mqtt": {"password": 4711}}, "secrets.json: mqtt.password: a text in quotes; this is a number"),
    ({"mqtt": "p"}, 'secrets.json: mqtt: an object of texts, like {"token": "..."}'),
    ({"wifi": {"ssid": "home", "pass": "p"}}, "secrets.json: wifi: unknown key 'pass'"),
]


def test_the_secrets_file_is_checked_by_the_same_schema():
    data = dict(GOOD, mqtt=MQTT)
    for secrets, message in BAD_SECRETS:
        e = raises(ConfigError, config.Site, data, secrets, "site.json", "secrets.json")
        assert message in str(e), (message, str(e))
        assert "12345" not in str(e) and "abc" not in str(e) and "4711" not in str(e)
    # A token pasted where a name belongs is not shown whole either.
    jwt = "eyJhbGciOiJFUzI1NiIsImtpZCI6IjEifQ"
    e = raises(ConfigError, config.Site, data, {"envoy": {jwt: "x"}}, "site.json", "secrets.json")
    assert "secrets.json: envoy: unknown key 'eyJhbGci...'" in str(e) and jwt not in str(e)
    s = config.Site(data, {"envoy": {"token": "abc"}, "mqtt": {"password": "p"}, "wifi": {"ssid": "home", "password": "w"}})
    assert s.devices["envoy"]["token"] == "abc" and s.mqtt["password"] == "p"


def test_every_kind_declares_its_keys_in_the_schema():
    known = ("duration", "int", "bool", "text", "url", "topic", "word", "words", "entities", "object", "secret")
    for kind in kinds.names():
        cls = kinds.adapter_class(kind)
        names = []
        for entry in cls.CONFIG_KEYS:
            if isinstance(entry, str):
                names.append(entry)  # a key configure checks alone
                continue
            assert entry[1] in known, (kind, entry)
            if entry[1] in ("duration", "int"):
                assert 0 < entry[2] < entry[3] <= 86400, (kind, entry)  # finite, bounded
            names.append(entry[0])
        assert len(names) == len(set(names)), kind
        for key in ("poll", "timeout", "stale_after"):
            assert key in names, (kind, key)


def test_files_with_comments_and_syntax_errors():
    path = scratch("site.json")
    port.write_atomic(path, '// my site\n{\n  "devices": {"envoy": {"url": "http://e"}}\n}\n')
    assert config.load(path, scratch("no-secrets.json")).devices["envoy"]["url"] == "http://e"
    port.write_atomic(path, '{\n  "devices": {"envoy": {"url": "http://e"}\n  "x": 1\n}\n')
    assert str(raises(ConfigError, config.load, path)) == path + ":3:3: expected ',' or '}'"
    assert "cannot read the config file" in str(raises(ConfigError, config.load, path + ".missing"))


def test_a_key_twice_is_an_error_with_its_place():
    # JSON's "the last one wins" hid the first value; the config names the second.
    path = scratch("site.json")
    port.write_atomic(path, '{\n  "devices": {"envoy": {"url": "http://e",\n    "poll": 5, "poll": 50}}\n}\n')
    assert str(raises(ConfigError, config.load, path)) == path + ':3:16: the key "poll" is here twice (a JSON object names each key once)'
    port.write_atomic(path, '{"devices": {"envoy": {"url": "http://e"}}, "devices": {}}')
    assert str(raises(ConfigError, config.load, path)).startswith(path + ':1:45: the key "devices" is here twice')
    secrets = scratch("dup-secrets.json")
    port.write_atomic(path, '{"devices": {"envoy": {"url": "http://e"}}}')
    port.write_atomic(secrets, '{"envoy": {"token": "a"},\n "envoy": {"token": "b"}}')
    assert str(raises(ConfigError, config.load, path, secrets)).startswith(secrets + ':2:2: the key "envoy" is here twice')
    # Columns count characters, not bytes.
    port.write_atomic(path, '{"devices": {"envoy": {"url": "http://e"}}, "état": 1, "état": 2}')
    assert str(raises(ConfigError, config.load, path)).startswith(path + ':1:56: the key "état" is here twice')


def test_a_byte_order_mark_is_skipped():
    # It was reported as "not JSON but the text '\ufeff{...'".
    path = scratch("bom-site.json")
    port.write_atomic(path, b'\xef\xbb\xbf// saved by Notepad\n{"devices": {"envoy": {"url": "http://e"}}}\n')
    assert config.load(path, scratch("no-secrets.json")).devices["envoy"]["url"] == "http://e"
    port.write_atomic(path, b'\xef\xbb\xbf{"devices": {"envoy": {"url": "http://e"}},}\n')
    assert str(raises(ConfigError, config.load, path)).startswith(path + ":1:44: expected a key in quotes")


def test_numbers_json_cannot_hold_are_refused():
    # 1e999 reads as infinity: stale_after would have turned staleness off.
    path = scratch("inf-site.json")
    for key, text, message in (
        ("stale_after", '{"stale_after": 1e999, "devices": {"envoy": {"url": "http://e"}}}', "site.json: stale_after: inf s is out of range"),
        ("stale_after", '{"devices": {"envoy": {"url": "http://e", "stale_after": 1e999}}}', "devices.envoy.stale_after: inf s is out of range"),
        ("poll", '{"devices": {"envoy": {"url": "http://e", "poll": 1e308}}}', "devices.envoy.poll: 1e+308 s is out of range"),
        ("port", '{"mqtt": {"host": "b", "port": 100000000000000000000000}, "devices": {"envoy": {"url": "http://e"}}}', "mqtt.port: a whole number"),
    ):
        port.write_atomic(path, text)
        assert message in str(raises(ConfigError, config.load, path, scratch("no-secrets.json"))), key


def test_a_file_over_the_limit_is_refused_before_it_is_read():
    path = scratch("big-site.json")
    port.write_atomic(path, '{"devices": {"envoy": {"url": "http://e"}}, "x": "' + "a" * config.MAX_FILE_BYTES + '"}')
    message = str(raises(ConfigError, config.load, path))
    assert message == path + ": the config file is %d bytes; at most 1048576 (1 MB) are read" % port.file_size(path)
    port.remove(path)


def test_time_zones():
    assert port.parse_offset("+01:00") == 3600 and port.parse_offset("-05:30") == -19800
    raises(ValueError, port.parse_offset, "CET")
    noon_utc = 1782129600  # 2026-06-22 12:00 UTC
    assert port.time_of_day("UTC", noon_utc) == 12 * 3600
    assert port.time_of_day("+02:00", noon_utc) == 14 * 3600
    assert port.time_of_day("UTC", 1000) is None  # a board's clock before NTP
    for zone in ("local", "UTC", "+01:00", "-05:30", "+14:00", "-12:00"):
        assert site(dict(envoy(), timezone=zone)).timezone == zone
    for zone in ("CET", "Europe/Berlin", "+01:60", "-13:00", "+1:00", ""):
        assert "site.json: timezone: " in refused(dict(envoy(), timezone=zone)), zone
