"""The engine's life on a board (sunshift.board) with fake hardware and a fake clock.

Wi-Fi, the watchdog, NTP and the reset are fakes; time is a counter that only
sleeping moves (it starts just before the ticks wrap, as a board's does after
12 days); a scratch folder is the board's filesystem; the devices answer
through the socket-free sessions of test_runner.  So it runs the same, and at
once, under pytest and under MicroPython.
"""

import os
import sys

from replay import ReplaySession, ScriptedSession
from test_runner import MQTT_ONLY, RULES, FakeBroker, FakeEvcc, without

from sunshift import port
from sunshift.board import hardware, supervisor
from sunshift.errors import TransportError
from sunshift.lang import compiled, ruleset
from sunshift.site import config
from support import ROOT, raises, scratch

PASSWORD = "pw-never-shown-4711"
SECRETS = '{"envoy": {"token": "test-envoy-token"}, "wifi": {"ssid": "home", "password": "%s"}}' % PASSWORD
CONFIG = '{"timezone": "UTC", "devices": {"envoy": {"url": "https://envoy.local", "poll": 1}, "evcc": {"url": "http://evcc.local", "poll": 1}}}'
# The same site with evcc moved to MQTT.
EVCC_OVER_MQTT = CONFIG.replace('"timezone": "UTC",', '"timezone": "UTC", "mqtt": {"host": "broker.local"},').replace(
    '"url": "http://evcc.local"', '"transport": "mqtt"'
)
# 2026-06-21 12:00:00 UTC: what NTP sets the fake clock to.
NTP_TIME = 1782043200


class FakeTime:
    """ticks_ms, sleep_ms and the wall clock of a board; only sleeping moves time."""

    def __init__(self):
        self.ticks = port.TICKS_PERIOD - 20000  # the ticks wrap 20 s in
        self.elapsed = 0
        self.wall = port.UNIX_2000  # a board's clock before NTP: 2000-01-01

    def ticks_ms(self):
        return self.ticks

    def sleep_ms(self, ms):
        if ms < 0:
            raise ValueError("negative sleep %r" % ms)
        self.ticks = port.ticks_add(self.ticks, int(ms))
        self.elapsed += int(ms)

    def unix_time(self):
        return self.wall + self.elapsed // 1000


class FakeWLAN:
    """A station: after connect() it associates 2 s later if ``available(elapsed_ms)``."""

    def __init__(self, time, available):
        self.time = time
        self.available = available
        self.connects = []  # (elapsed ms, ssid, password)
        self.since = None

    def active(self, on=None):
        return True

    def connect(self, ssid, password):
        self.connects.append((self.time.elapsed, ssid, password))
        self.since = self.time.elapsed

    def disconnect(self):
        self.since = None

    def isconnected(self):
        now = self.time.elapsed
        if self.since is not None and not self.available(now):
            self.since = None  # the access point went away
        return self.since is not None and now - self.since >= 2000


class FakeWDT:
    def __init__(self, time):
        self.time = time
        self.timeout = None
        self.feeds = []

    def start(self, timeout_ms):
        self.timeout = timeout_ms
        return self

    def feed(self):
        self.feeds.append(self.time.elapsed)

    def longest_gap(self, until):
        marks = [0] + self.feeds + [until]
        return max(marks[k + 1] - marks[k] for k in range(len(marks) - 1))


class FakeNTP:
    """ntptime.settime that fails ``failures`` times, then sets the clock."""

    def __init__(self, time, failures=0):
        self.time = time
        self.failures = failures
        self.calls = []

    def settime(self):
        self.calls.append(self.time.elapsed)
        if len(self.calls) <= self.failures:
            raise OSError(110)  # ETIMEDOUT: no answer
        self.time.wall = NTP_TIME - self.time.elapsed // 1000


def _clear(path):
    if port.is_dir(path):
        for name in port.list_dir(path):
            _clear(port.join(path, name))
        os.rmdir(path)
    else:
        port.remove(path)


class Bench:
    """A board on the test bench: its files, hardware fakes and the site's devices."""

    def __init__(self, name, available=None, failures=0, files=True):
        self.root = scratch("board-" + name)
        _clear(self.root)
        os.mkdir(self.root)
        self.time = FakeTime()
        self.wlan = FakeWLAN(self.time, available or (lambda ms: True))
        self.wdt = FakeWDT(self.time)
        self.ntp = FakeNTP(self.time, failures)
        self.resets = []
        self.lines = []
        self.evcc = FakeEvcc()
        self.sessions = {"envoy": ReplaySession("7.6.175_with_cts"), "evcc": ScriptedSession(self.evcc)}
        for session in self.sessions.values():
            session.request = self._offline_fails(session.request)
        if files:
            self.write("config.json", CONFIG)
            self.write("secrets.json", SECRETS)
            self.deploy_rules(RULES)

    def _offline_fails(self, request):
        def wrapped(method, url, headers=None, body=None, timeout=5):
            if not self.wlan.isconnected():
                raise TransportError("refused", "no route to host")
            return request(method, url, headers, body, timeout)

        return wrapped

    def deploy_rules(self, text):
        """What tools/deploy.py --rules-only leaves on a board: the rule file, and its compiled rules."""
        self.write("rules/ev.rules", text)
        path = port.join(self.root, "rules/ev.rules")
        rs = ruleset.compile_sources([(path, text)])
        self.write("rules.compiled", compiled.dump(rs, [path]))

    def write(self, name, text):
        if "/" in name and not port.is_dir(port.join(self.root, name.split("/")[0])):
            os.mkdir(port.join(self.root, name.split("/")[0]))
        port.write_atomic(port.join(self.root, name), text)

    def read(self, name):
        return port.read_text(port.join(self.root, name))

    def exists(self, name):
        return port.file_size(port.join(self.root, name)) is not None

    def board(self):
        return hardware.Board(
            self.root,
            self.wlan,
            self.wdt.start,
            self.ntp.settime,
            lambda: self.resets.append(self.time.elapsed),
            self.time.ticks_ms,
            self.time.sleep_ms,
            self.time.unix_time,
            self.lines.append,
        )

    def device(self, kind=None):
        return (kind or supervisor.Supervisor)(self.board(), sessions=self.sessions)

    def run(self, seconds, kind=None, script=None, dev=None):
        """main.py for ``seconds`` of fake time (or until a reset); returns the Device."""
        dev = dev or self.device(kind)
        end = self.time.elapsed + seconds * 1000

        def stop():
            if script is not None:
                script(self.time.elapsed)
            return self.time.elapsed >= end

        dev.run(stop)
        return dev

    def said(self, part):
        return [line for line in self.lines if part in line]

    def requests(self):
        return len(self.sessions["envoy"].requests) + len(self.sessions["evcc"].requests)


class StepSpy(supervisor.Supervisor):
    """A Device whose Runner records the time of day of every turn."""

    def _runner(self, site, log, rs):
        runner = supervisor.Supervisor._runner(self, site, log, rs)
        self.tods = []
        step = runner.step

        def spied(now, tod, now_ms=None):
            self.tods.append(tod)
            return step(now, tod, now_ms)

        runner.step = spied
        return runner


class Crashing(supervisor.Supervisor):
    """A Device whose engine raises on the third turn."""

    def _runner(self, site, log, rs):
        runner = supervisor.Supervisor._runner(self, site, log, rs)
        step = runner.step
        turns = []

        def crashing(now, tod, now_ms=None):
            turns.append(now)
            if len(turns) == 3:
                raise RuntimeError("the engine tripped")
            return step(now, tod, now_ms)

        runner.step = crashing
        return runner


# --- boot.py -------------------------------------------------------------------


def test_boot_retries_wifi_then_sets_the_clock_and_starts_the_watchdog():
    bench = Bench("boot-retry", available=lambda ms: ms >= 10500)
    online = bench.device().boot()
    assert online is True
    assert bench.wdt.timeout == supervisor.WATCHDOG_MS
    # The first association waits WIFI_WAIT_MS in vain; the second, after a pause, works.
    assert [(c[1], c[2]) for c in bench.wlan.connects] == [("home", PASSWORD), ("home", PASSWORD)]
    assert bench.wlan.connects[1][0] >= hardware.WIFI_WAIT_MS + hardware.WIFI_PAUSE_MS
    assert len(bench.ntp.calls) == 1 and bench.said("clock: set by NTP, 2026-06-21 12:00:")
    assert bench.wdt.longest_gap(bench.time.elapsed) <= hardware.SLICE_MS
    assert bench.said("Wi-Fi: connected to 'home' (attempt 2)")
    assert not [line for line in bench.lines if PASSWORD in line]


def test_boot_gives_up_on_wifi_within_its_budget_and_goes_on():
    bench = Bench("boot-nowifi", available=lambda ms: False)
    online = bench.device().boot()
    assert online is False
    assert hardware.WIFI_BOOT_MS <= bench.time.elapsed <= hardware.WIFI_BOOT_MS + hardware.WIFI_POLL_MS
    assert len(bench.wlan.connects) >= 3
    gaps = [bench.wlan.connects[k + 1][0] - bench.wlan.connects[k][0] for k in range(len(bench.wlan.connects) - 1)]
    assert gaps[:3] == [11000, 12000, 14000]  # 10 s waiting each, pauses 1, 2, 4 s
    assert bench.said("Wi-Fi: no connection to 'home' after")
    assert bench.ntp.calls == []
    assert bench.wdt.longest_gap(bench.time.elapsed) <= hardware.SLICE_MS
    assert not [line for line in bench.lines if PASSWORD in line]


def test_boot_without_wifi_secrets_says_so_and_goes_on():
    bench = Bench("boot-nosecrets")
    bench.write("secrets.json", '{"envoy": {"token": "x"}}')
    assert bench.device().boot() is False
    assert bench.said('secrets.json: wifi: the board needs {"ssid"')
    assert bench.wlan.connects == []
    assert bench.wdt.timeout == supervisor.WATCHDOG_MS


def test_boot_and_main_do_nothing_off_a_board():
    # sys.argv is not empty here (pytest, mptest.py): a PC, not a board.
    if port.file_size(ROOT + "/main.py") is None:
        return  # tools/mprun.mjs copies lib/, tests/, tools/ and rules/ only
    for name in ("boot.py", "main.py"):
        names = {"__name__": "not_main", "__file__": ROOT + "/" + name}
        exec(port.read_text(ROOT + "/" + name), names)
        assert "device" not in names, name
    assert "cli" in names  # main.py got the command line ready


# --- the clock -------------------------------------------------------------------


def test_time_of_day_is_unknown_until_ntp_sets_the_clock():
    bench = Bench("ntp", failures=3)
    bench.device().boot()  # the first NTP try fails
    assert bench.said("clock: NTP failed (OSError: ")
    dev = bench.run(150, StepSpy)
    assert dev.tods[0] is None
    # Retried every NTP_RETRY_MS while unset: the fourth try sets it.
    assert len(bench.ntp.calls) == 4
    assert hardware.NTP_RETRY_MS <= bench.ntp.calls[3] - bench.ntp.calls[2] <= hardware.NTP_RETRY_MS + 100
    assert dev.tods[-1] is not None and 43200 <= dev.tods[-1] <= 43200 + 150
    assert None in dev.tods[: len(dev.tods) // 2]
    # Said once by boot.py and once by main.py, not at every retry.
    assert len(bench.said("clock: NTP failed")) == 2
    assert bench.said("clock: set by NTP")


# --- the main loop --------------------------------------------------------------


def test_the_loop_runs_the_engine_and_feeds_the_watchdog_every_turn():
    bench = Bench("loop")
    dev = bench.run(5)
    assert dev.turns > 50
    assert len(bench.wdt.feeds) >= dev.turns
    assert bench.wdt.longest_gap(bench.time.elapsed) <= 1000
    assert bench.evcc.posts == ["off"]  # the rule decided and wrote, as on a Pi
    assert bench.exists("rules.good")
    assert bench.resets == []
    # The loader of compiled rules served the start and left the heap after it.
    assert "sunshift.lang.compiled" not in sys.modules and not hasattr(sys.modules["sunshift.lang"], "compiled")
    # On MicroPython the console says the heap once, after the first turn.
    heap = bench.said("heap: ")
    if hasattr(sys, "implementation") and sys.implementation.name == "micropython":
        assert len(heap) == 1 and " bytes held after the first turn, " in heap[0] and heap[0].endswith(" free")
    else:
        assert heap == []


def test_wifi_lost_in_the_loop_is_retried_with_backoff_and_the_site_carries_on():
    bench = Bench("wifi-loss", available=lambda ms: not (10000 <= ms < 100000))
    assert bench.device().boot() is True
    dev = bench.run(160)
    assert len(bench.said("Wi-Fi: lost")) == 1
    assert len(bench.said("Wi-Fi: connected again to 'home'")) == 1
    during = [c[0] for c in bench.wlan.connects if 10000 <= c[0] < 100000]
    gaps = [during[k + 1] - during[k] for k in range(len(during) - 1)]
    assert len(during) >= 3 and gaps == sorted(gaps) and gaps[0] < gaps[-1]
    assert bench.said("envoy GET") and bench.said("its signals will go stale")
    assert bench.said("answers again after")
    assert dev.turns > 2000 and bench.resets == []  # it kept turning through the loss
    assert not [line for line in bench.lines if PASSWORD in line]


# --- bad input ----------------------------------------------------------------


def test_a_missing_config_idles_without_writing_and_recovers_when_it_appears():
    bench = Bench("noconfig")
    port.remove(port.join(bench.root, "config.json"))

    def deploy(ms):
        if ms >= 45000 and not bench.exists("config.json"):
            bench.write("config.json", CONFIG)

    dev = bench.run(70, script=deploy)
    message = bench.said("idle: ")
    assert message[0].endswith("config.json: cannot read the config file (does it exist?); nothing is written; trying again in 30 s")
    assert len(message) == 2  # at 0 s and 30 s; at 60 s the file is there
    assert bench.evcc.posts == ["off"] and dev.turns > 0
    assert bench.wdt.longest_gap(bench.time.elapsed) <= hardware.SLICE_MS
    assert bench.resets == []


def test_a_malformed_config_names_the_place_and_idles():
    bench = Bench("badconfig")
    bench.write("config.json", '{"devices": {\n  "envoy": {"url": "https://envoy.local",}\n}}')
    dev = bench.run(65)
    assert bench.said("config.json:2:")
    assert dev.idles == 3 and dev.turns == 0
    assert bench.requests() == 0 and bench.evcc.posts == []
    assert bench.wdt.longest_gap(bench.time.elapsed) <= hardware.SLICE_MS


def test_a_config_or_secrets_file_larger_than_a_board_reads_idles_with_the_sizes():
    bench = Bench("hugeconfig")
    padding = "// " + "a comment that goes on " * 40 + "\n"
    huge = padding * (config.BOARD_LIMITS["config"] // len(padding) + 1) + CONFIG
    bench.write("config.json", huge)
    dev = bench.run(35)
    said = bench.said("idle: ")
    size = len(huge.encode())
    assert said[0].endswith(
        "config.json: the config file is %d bytes; a board reads at most 16384 (16 KB): shorten its comments, or split the site over two boards;"
        " nothing is written; trying again in 30 s" % size
    )
    assert dev.turns == 0 and bench.requests() == 0 and bench.evcc.posts == []
    # The secrets too, and before Wi-Fi: nothing of the file is shown.
    bench.write("config.json", CONFIG)
    bench.write("secrets.json", SECRETS.replace('"home"', '"%s"' % ("h" * 9000)))
    bench.lines[:] = []
    dev = bench.run(35)
    assert bench.said("secrets.json: the secrets file is ") and dev.turns == 0
    assert not [line for line in bench.lines if PASSWORD in line or "hhhh" in line]
    # A file that fits runs.
    bench.write("secrets.json", SECRETS)
    dev = bench.run(3)
    assert dev.turns > 0 and bench.evcc.posts == ["off"]


class ShortOfMemory(supervisor.Supervisor):
    """A Device whose heap runs out while the rules load, ``times`` times."""

    times = 1

    def _runner(self, site, log, rs):
        if ShortOfMemory.times > 0:
            ShortOfMemory.times -= 1
            raise MemoryError("memory allocation failed, allocating 2048 bytes")
        return supervisor.Supervisor._runner(self, site, log, rs)


def test_running_out_of_memory_while_loading_idles_then_loads_again():
    bench = Bench("shortstart")
    # The loader as the board imports it now (a start forgets it after: port.unload).
    from sunshift.lang import compiled as loader

    original = loader.load
    loads = []

    def short(path):
        loads.append(path)
        raise MemoryError("memory allocation failed, allocating 4096 bytes")

    loader.load = short
    try:
        dev = bench.run(35)
    finally:
        loader.load = original
    assert len(loads) == 1  # the next start imported the loader afresh
    size = port.file_size(port.join(bench.root, "rules.compiled"))
    said = bench.said("idle: ")
    assert len(said) == 1 and "idle: out of memory while loading the rules in %s (%d bytes) (" % (port.join(bench.root, "rules.compiled"), size) in said[0]
    assert said[0].endswith(
        "bytes free after collecting); fewer rules or devices, or a board with PSRAM (a plain ESP32 runs the frozen image: firmware/README.md);"
        " nothing is written; trying again in 30 s"
    )
    assert dev.turns > 0 and bench.evcc.posts == ["off"]  # the second start ran the site
    assert bench.resets == [] and not bench.exists("crashes.json")  # a spike at start is no crash
    # Out of memory while building the devices: the same, in that phase.
    ShortOfMemory.times = 1
    bench.lines[:] = []
    dev = bench.run(35, ShortOfMemory)
    assert bench.said("idle: out of memory while loading the devices (") and dev.turns > 0 and bench.resets == []


def test_missing_secrets_idle_then_recover():
    bench = Bench("nosecrets")
    port.remove(port.join(bench.root, "secrets.json"))

    def deploy(ms):
        if ms >= 20000 and not bench.exists("secrets.json"):
            bench.write("secrets.json", SECRETS)

    dev = bench.run(40, script=deploy)
    assert bench.said("secrets.json: cannot read the secrets file")
    assert dev.idles == 1 and dev.turns > 0
    assert bench.evcc.posts == ["off"]


def test_wifi_secrets_are_checked_and_the_password_never_shown():
    path = "secrets.json"
    e = raises(config.ConfigError, config.wifi, {"wifi": {"ssid": "home", "pasword": PASSWORD}}, path)
    assert "unknown key 'pasword'" in str(e) and PASSWORD not in str(e)
    e = raises(config.ConfigError, config.wifi, {"wifi": {"ssid": "", "password": PASSWORD}}, path)
    assert "wifi: the board needs" in str(e) and PASSWORD not in str(e)
    e = raises(config.ConfigError, config.wifi, {"wifi": {"ssid": "home", "password": 4711}}, path)
    assert "wifi.password" in str(e)
    assert config.wifi({"wifi": {"ssid": "cafe"}}) == ("cafe", "")


def test_rules_that_cannot_be_read_fall_back_to_the_last_good_rules():
    bench = Bench("goodcopy")
    bench.run(2)
    good = bench.read("rules.good")
    assert good == bench.read("rules.compiled") and '"rule", "ev"' in good
    lines = good.split("\n")
    bench.write("rules.compiled", "\n".join(lines[:2]) + "\n")  # copied only in part
    bench.evcc.posts = []
    bench.lines[:] = []
    dev = bench.run(3)
    assert bench.said("rules.compiled:2:1: the file ends before all its rules (copied only in part?); deploy the rules again")
    assert bench.said("rules: keeping the last good rules (")
    assert dev.rules_from.endswith("rules.good") and dev.turns > 0
    assert bench.evcc.posts == ["off"]  # the good rules run
    assert bench.read("rules.good") == good  # the bad set did not replace it
    bench.write("rules.compiled", "<html>not rules</html>\n")
    bench.lines[:] = []
    bench.run(2)
    assert bench.said("rules.compiled:1:1: not a line of compiled rules (broken JSON)")


def test_no_compiled_rules_and_no_good_copy_idle():
    bench = Bench("nogood")
    port.remove(port.join(bench.root, "rules.compiled"))
    dev = bench.run(35)
    assert bench.said("rules.compiled:1:1: no compiled rules here: deploy them with python3 tools/deploy.py --rules-only")
    assert bench.said("cannot run here and there is no earlier good set")
    assert dev.idles == 2 and dev.turns == 0
    assert bench.requests() == 0
    assert not bench.exists("rules.good")


def test_rule_text_copied_by_hand_is_reported_and_the_compiled_rules_run():
    bench = Bench("bytext")
    bench.write("rules/ev.rules", RULES.replace("surplus > 1kW", "surplus > 2kW"))
    bench.write("rules/new.rules", "# a file the board cannot compile\n")
    dev = bench.run(3)
    said = bench.said("rules: the files in ")
    assert len(said) == 1 and "are not those " in said[0] and "(changed or new: ev.rules, new.rules)" in said[0]
    assert "python3 tools/deploy.py --rules-only" in said[0]
    assert dev.rules_from.endswith("rules.compiled") and dev.turns > 0 and bench.evcc.posts == ["off"]


def test_rules_for_a_device_the_site_lacks_fall_back_too():
    bench = Bench("names")
    bench.run(1)
    bench.deploy_rules(RULES.replace("evcc.loadpoints", "wallbox.loadpoints"))
    dev = bench.run(2)
    assert bench.said("the site has no device 'wallbox'")
    assert dev.rules_from.endswith("rules.good") and dev.turns > 0


def test_a_device_whose_adapter_is_not_on_the_board_idles_and_says_deploy_again():
    bench = Bench("noadapter")
    bench.run(2)  # a good copy of the rules exists: it cannot help either
    bench.lines[:] = []
    bench.evcc.posts = []
    dev = without(("sunshift.devices.evcc",), lambda: bench.run(35))
    assert bench.said("device 'evcc' (evcc): its adapter is not installed here (")
    assert bench.said("; deploy again with this config")
    assert bench.said("idle: ")
    assert dev.turns == 0 and dev.idles == 2  # tried again after the idle, nothing written
    assert bench.evcc.posts == [] and bench.resets == [] and not bench.exists("errors.log")


def test_an_mqtt_device_without_the_mqtt_backend_on_the_board_idles_and_says_deploy_again():
    bench = Bench("nomqtt")
    bench.write("config.json", EVCC_OVER_MQTT)
    real = port.backend

    def backend(kind):
        if kind == "mqtt":
            raise ImportError("no mqtt backend: tried sunshift.net.mqtt (no module named 'sunshift.net.mqtt')")
        return real(kind)

    port.backend = backend
    try:
        dev = bench.run(35)
    finally:
        port.backend = real
    wanted = "idle: a module this config needs is not installed here (no mqtt backend: tried sunshift.net.mqtt"
    assert bench.said(wanted) and bench.said("; deploy again with this config; nothing is written")
    assert dev.turns == 0 and dev.idles == 2
    assert bench.resets == [] and not bench.exists("errors.log") and bench.requests() == 0


def assert_idled_for_a_deploy(bench, dev, reason):
    """The board idled at start for ``reason``, said to deploy again, and did nothing else."""
    assert bench.said("idle: " + reason)
    assert bench.said("; deploy again with this config; nothing is written")
    assert dev.turns == 0 and dev.idles == 2
    assert bench.resets == [] and not bench.exists("errors.log") and bench.requests() == 0


def test_an_enode_device_whose_adapter_is_not_on_the_board_idles_at_the_config():
    # Each adapter checks its own config entry (Adapter.configure): without the
    # module the config cannot be read, and the board says to deploy again.
    bench = Bench("noenode")
    cloud = ', "cloud": {"type": "enode", "batteries": {"home": "b1"}}}}'
    bench.write("config.json", CONFIG[: -len("}}")] + cloud)
    bench.write("secrets.json", SECRETS[:-1] + ', "cloud": {"client_id": "c", "client_secret": "s"}}')
    dev = without(("sunshift.devices.enode",), lambda: bench.run(35))
    assert_idled_for_a_deploy(bench, dev, "device 'cloud' (enode): its adapter is not installed here (")


def test_a_board_deployed_for_rest_whose_evcc_moves_to_mqtt_idles_and_says_deploy_again():
    # A REST-only deploy copies none of the MQTT modules: the Runner's MQTT side
    # (site/mqtt) is the first import that fails.
    bench = Bench("restonly")
    bench.write("config.json", EVCC_OVER_MQTT)
    dev = without(MQTT_ONLY, lambda: bench.run(35))
    assert_idled_for_a_deploy(bench, dev, "a module this config needs is not installed here (")


def test_a_board_without_the_mqtt_adapter_of_evcc_idles_and_says_deploy_again():
    # Deployed with EMS-ESP over MQTT, say: the MQTT side is there, evcc's MQTT adapter is not.
    bench = Bench("noevccmqtt")
    bench.write("config.json", EVCC_OVER_MQTT)
    broker = FakeBroker()
    dev = supervisor.Supervisor(bench.board(), sessions=bench.sessions, mqtt_client=broker)
    without(("sunshift.devices.evcc_mqtt",), lambda: bench.run(35, dev=dev))
    assert_idled_for_a_deploy(bench, dev, "device 'evcc' (evcc): its adapter is not installed here (")
    assert broker.published == []


# --- crashes ------------------------------------------------------------------


def test_a_crash_goes_to_the_ring_file_and_resets_the_board():
    bench = Bench("crash")
    old = "".join("old line %03d %s\n" % (k, "x" * 40) for k in range(80))  # about 4 KB
    bench.write("errors.log", old)
    bench.run(60, Crashing)
    assert len(bench.resets) == 1
    assert bench.resets[0] >= supervisor.CRASH_PAUSE_MS  # a short pause first, the watchdog fed
    assert bench.wdt.longest_gap(bench.resets[0]) <= hardware.SLICE_MS
    ring = bench.read("errors.log")
    assert len(ring.encode()) <= hardware.ERRORS_MAX_BYTES
    assert "RuntimeError: the engine tripped" in ring and "crash 1:" in ring
    assert "old line 000" not in ring and "old line 079" in ring
    assert ring.startswith("old line ")  # whole lines were dropped
    assert port.json_loads(bench.read("crashes.json")) == {"count": 1}
    assert bench.said("restarting the board")


def test_the_ring_file_keeps_its_limit_with_one_huge_entry():
    path = scratch("ring.log")
    port.remove(path)
    hardware.append_ring(path, "first\n", 100)
    hardware.append_ring(path, "y" * 300, 100)
    text = port.read_text(path)
    assert len(text) == 100 and text == "y" * 99 + "\n"


def test_a_crash_loop_idles_longer_instead_of_resetting_at_once():
    bench = Bench("crashloop")
    bench.write("crashes.json", '{"count": 2}')
    bench.run(4000, Crashing)
    assert len(bench.resets) == 1
    assert bench.resets[0] >= supervisor.CRASH_IDLE_MS  # idled ten minutes first
    assert bench.said("idle: 3 crashes in a row")
    assert bench.wdt.longest_gap(bench.resets[0]) <= hardware.SLICE_MS
    assert bench.said("site: running 1 rules")  # the crash came from a turn of the engine
    # The next crash after that reset idles twice as long.
    bench.run(4000, Crashing)
    assert len(bench.resets) == 2
    assert bench.resets[1] - bench.resets[0] >= 2 * supervisor.CRASH_IDLE_MS
    assert port.json_loads(bench.read("crashes.json")) == {"count": 4}


def test_running_a_while_clears_the_crash_count():
    bench = Bench("crashclear")
    bench.write("crashes.json", '{"count": 2}')
    dev = bench.device()
    dev.crash_window_ms = 3000
    bench.run(2, dev=dev)
    assert bench.exists("crashes.json")  # not yet
    dev = bench.device()
    dev.crash_window_ms = 3000
    bench.run(4, dev=dev)
    assert not bench.exists("crashes.json")
    assert bench.said("the crash count starts again")


def test_a_reset_keeps_a_running_for_timer_and_writes_nothing_again():
    bench = Bench("reset-state")
    # True with the capture's 11 W export: pending for a minute, then pv.
    bench.deploy_rules(RULES.replace("when surplus > 1kW", "when surplus > -1kW for 60s"))
    assert bench.device().boot() is True  # NTP: the wall clock is set
    bench.run(40)
    assert bench.evcc.posts == ["off"] and bench.exists("state.json")
    began = bench.time.elapsed
    bench.run(40)  # a reset: a new loop on the same files, 40 s into the minute
    assert bench.evcc.posts == ["off", "pv"]
    restored = bench.said("state: restored from ")
    assert len(restored) == 1 and "1 rule carries on where it left off" in restored[0]
    pv = [line for line in bench.lines if 'set "pv"' in line]
    assert len(pv) == 1
    # The minute ran on across the reset: pv about 20 s into the second run, not 60 s.
    assert bench.time.elapsed - began >= 40000 and bench.said("ev: pending-on -> active")


def test_new_compiled_rules_are_reloaded_without_a_reset():
    bench = Bench("reload")
    dev = bench.device()
    extra = RULES + "\nrule extra\n  when envoy.production > 1000kW\n  then evcc.loadpoints.1.mode = now\n  priority 1\n"

    def deploy(ms):
        if ms >= 20000 and not bench.exists("deployed"):
            bench.write("deployed", "1")
            bench.deploy_rules(extra)  # what `deploy --rules-only` copies; it no longer resets the board
        if ms >= 40000 and not bench.exists("broken"):
            bench.write("broken", "1")
            bench.write("rules.compiled", '{"sunshift": "compiled rules", "format": 1, "files": []')

    bench.run(60, script=deploy, dev=dev)
    said = bench.said("rules: reloaded from ")
    assert len(said) == 1 and said[0].endswith("1 unchanged (state and timers carry on); changed or new: extra"), said
    assert bench.resets == [] and dev.runner.rules.rules[-1].name == "extra"
    assert "sunshift.lang.compiled" not in sys.modules  # the loader left the heap again
    # A broken deploy is said, and the running rules stay.
    assert len(bench.said("not reloaded; the running rules stay")) == 1 and dev.runner.rules.rules[-1].name == "extra"
    assert bench.evcc.posts == ["off"]  # nothing switched by either
