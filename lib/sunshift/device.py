"""The engine on a board: Wi-Fi, the clock, the watchdog, bad files and crashes.

boot.py calls :func:`boot` and main.py :func:`main`; both use :class:`Device`,
which takes the hardware as a :class:`Board` so that tests drive it with fakes
and a fake clock.  Only :func:`hardware` imports machine, network and ntptime.

The loop (docs/device.md): LOAD the config, secrets and rules -> RUN turns
(feed the watchdog, keep Wi-Fi and the clock, step the Runner); a file that
cannot be used -> IDLE (nothing written, watchdog fed, LOAD again later); an
unexpected exception -> CRASH (logged to the ring file, then a reset, or IDLE
first when the board keeps crashing).
"""

import gc
import sys

from . import app, config, parser, port
from .config import ConfigError
from .errors import ModuleMissing, RuleError, SunshiftError

# Files on the board, under its root "/" (board_files.py copies them there).
CONFIG = "config.json"
SECRETS = "secrets.json"
RULES = "rules"
GOOD_RULES = "rules.good"  # the last rule set that passed, one JSON file: [[path, text], ...]
ERRORS = "errors.log"  # the ring file of crashes
CRASHES = "crashes.json"  # {"count": n}: crashes in a row, each soon after a start

# The watchdog resets a board not fed for this long.  A turn can take a device
# timeout (up to 5 s) per request: a poll, and a write per changed target, on
# each device; 90 s covers several slow devices at once.
WATCHDOG_MS = 90000

# Wi-Fi: wait this long for one association, then pause (doubling from
# WIFI_PAUSE_MS up to WIFI_PAUSE_MAX_MS) before trying again.  Boot gives up
# after WIFI_BOOT_MS and goes on; the main loop keeps trying.
WIFI_WAIT_MS = 10000
WIFI_PAUSE_MS = 1000
WIFI_PAUSE_MAX_MS = 60000
WIFI_BOOT_MS = 60000
WIFI_POLL_MS = 250

# NTP: retry every minute while the clock is not set, then once a day (the
# board's clock drifts by seconds a day).
NTP_RETRY_MS = 60000
NTP_RESYNC_MS = 86400000

# Idle: read the files again this often; sleep in slices so the watchdog is fed.
IDLE_RETRY_MS = 30000
IDLE_SLICE_MS = 1000

# The ring file stays under this many bytes; its oldest lines go first.
ERRORS_MAX_BYTES = 4096

# Crashes: pause before a reset; CRASH_LIMIT crashes in a row, each before the
# engine ran CRASH_WINDOW_MS, mean idling CRASH_IDLE_MS (doubling with every
# further crash, up to CRASH_IDLE_MAX_MS) before the next reset.
CRASH_PAUSE_MS = 5000
CRASH_LIMIT = 3
CRASH_WINDOW_MS = 600000
CRASH_IDLE_MS = 600000
CRASH_IDLE_MAX_MS = 3600000

_LEVELS = {"debug": port.DEBUG, "info": port.INFO, "warn": port.WARN, "warning": port.WARN, "error": port.ERROR}


class Board:
    """The hardware the device loop uses; every part can be replaced (tests pass fakes).

    ``wlan``: a station interface (active, isconnected, connect, disconnect);
    ``watchdog(timeout_ms)``: starts the hardware watchdog, returns it (feed);
    ``settime()``: sets the wall clock by NTP; ``reset()``: restarts the board;
    ``root``: the folder holding the board's files.
    """

    def __init__(self, root="/", wlan=None, watchdog=None, settime=None, reset=None, ticks_ms=None, sleep_ms=None, unix_time=None, console=None):
        self.root = root
        self.wlan = wlan
        self.watchdog = watchdog
        self.settime = settime
        self.reset = reset or _no_reset
        self.ticks_ms = ticks_ms or port.ticks_ms
        self.sleep_ms = sleep_ms or port.sleep_ms
        self.unix_time = unix_time or port.unix_time
        self.console = console or print
        self.wdt = None

    def path(self, name):
        """Where a board file is."""
        return port.join(self.root, name)

    def start_watchdog(self, timeout_ms):
        """Start the hardware watchdog once (it cannot be stopped on an ESP32)."""
        if self.wdt is None and self.watchdog is not None:
            self.wdt = self.watchdog(timeout_ms)

    def feed(self):
        """Tell the watchdog the board is alive."""
        if self.wdt is not None:
            self.wdt.feed()


def _no_reset():
    raise SunshiftError("this board cannot reset itself")


_HARDWARE = []


def hardware():
    """The Board of a real ESP32 (one per boot: boot.py and main.py share it)."""
    if not _HARDWARE:
        import machine
        import network
        import ntptime

        def watchdog(timeout_ms):
            return machine.WDT(timeout=timeout_ms)

        _HARDWARE.append(Board("/", network.WLAN(network.STA_IF), watchdog, ntptime.settime, machine.reset))
    return _HARDWARE[0]


def read_wifi(board):
    """(ssid, password) from the board's secrets file, or ConfigError."""
    path = board.path(SECRETS)
    return config.wifi(config.read_json(path, "secrets"), path)


def describe(e):
    """An exception with its traceback, as text."""
    print_exception = getattr(sys, "print_exception", None)
    if print_exception is not None:  # MicroPython
        import io

        out = io.StringIO()
        print_exception(e, out)
        return out.getvalue()
    import traceback  # CPython

    return "".join(traceback.format_exception(type(e), e, e.__traceback__))


def append_ring(path, text, limit=ERRORS_MAX_BYTES):
    """Append ``text`` to the file at ``path``, dropping its oldest lines to stay within ``limit`` bytes."""
    try:
        data = port.read_bytes(path)
    except OSError:
        data = b""
    data += text.encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"
    if len(data) > limit:
        newline = data.find(b"\n", len(data) - limit - 1)
        start = newline + 1 if 0 <= newline < len(data) - 1 else len(data) - limit
        data = data[start:]
    port.write_atomic(path, data)


class Wifi:
    """The station link: connect with backoff, notice a loss, reconnect.  Never prints the password."""

    def __init__(self, board, ssid, password, say):
        self.board = board
        self.ssid = ssid
        self.password = password
        self.say = say
        self.up = self._connected()
        self.lost = False
        self.attempts = 0
        self.pause_ms = WIFI_PAUSE_MS
        self.next_try = None

    def _connected(self):
        try:
            return bool(self.board.wlan.isconnected())
        except OSError:
            return False

    def _try(self):
        self.attempts += 1
        wlan = self.board.wlan
        try:
            wlan.active(True)
            if self.attempts > 1:
                wlan.disconnect()  # drop a half-made association first
            wlan.connect(self.ssid, self.password)
        except OSError as e:
            self.say("Wi-Fi: connecting to %r failed (%s)" % (self.ssid, e))

    def connect(self, budget_ms):
        """Connect, trying again with growing pauses, for at most ``budget_ms``: True once up."""
        board = self.board
        began = board.ticks_ms()
        self.say("Wi-Fi: connecting to %r" % self.ssid)
        while True:
            self._try()
            tried = board.ticks_ms()
            while not self._connected():
                spent = port.ticks_diff(board.ticks_ms(), began)
                if spent >= budget_ms or port.ticks_diff(board.ticks_ms(), tried) >= WIFI_WAIT_MS:
                    break
                board.feed()
                board.sleep_ms(min(WIFI_POLL_MS, budget_ms - spent))
            if self._connected():
                self.up = True
                self.say("Wi-Fi: connected to %r (attempt %d)" % (self.ssid, self.attempts))
                self.attempts = 0
                return True
            spent = port.ticks_diff(board.ticks_ms(), began)
            if spent >= budget_ms:
                self.say("Wi-Fi: no connection to %r after %d attempts in %d s; going on; the loop keeps trying" % (self.ssid, self.attempts, spent // 1000))
                self.next_try = port.ticks_add(board.ticks_ms(), self.pause_ms)
                return False
            _pause(board, min(self.pause_ms, budget_ms - spent))
            self.pause_ms = min(self.pause_ms * 2, WIFI_PAUSE_MAX_MS)

    def keep(self, now_ms):
        """One look from the main loop (never waits): True while connected."""
        if self._connected():
            if not self.up:
                self.up = True
                self.say("Wi-Fi: connected %sto %r (attempt %d)" % ("again " if self.lost else "", self.ssid, self.attempts))
                self.attempts = 0
                self.pause_ms = WIFI_PAUSE_MS
            return True
        if self.up:
            self.up = False
            self.lost = True
            self.say("Wi-Fi: lost; reconnecting (the devices' signals go stale meanwhile)")
            self.next_try = now_ms
        if self.next_try is None or port.ticks_diff(now_ms, self.next_try) >= 0:
            self._try()
            self.next_try = port.ticks_add(now_ms, WIFI_WAIT_MS + self.pause_ms)
            self.pause_ms = min(self.pause_ms * 2, WIFI_PAUSE_MAX_MS)
        return False


def _pause(board, ms):
    """Sleep ``ms`` in slices, feeding the watchdog."""
    began = board.ticks_ms()
    while True:
        left = ms - port.ticks_diff(board.ticks_ms(), began)
        if left <= 0:
            return
        board.feed()
        board.sleep_ms(min(IDLE_SLICE_MS, left))


class WallClock:
    """Sets the wall clock by NTP: retried while unset, then once a day."""

    def __init__(self, board, say):
        self.board = board
        self.say = say
        self.next_sync = None
        self.failed = None

    def is_set(self):
        """True once the clock shows a plausible date (port.CLOCK_SET_FROM or later)."""
        return port.time_of_day("UTC", self.board.unix_time()) is not None

    def sync(self):
        """Ask NTP once; True if the clock is set afterwards."""
        now = self.board.ticks_ms()
        try:
            self.board.settime()
        except Exception as e:  # ntptime raises OSError, OverflowError or IndexError on a bad answer
            text = "%s: %s" % (e.__class__.__name__, e)
            if text != self.failed:
                self.say("clock: NTP failed (%s); rules with `during` stay off until the clock is set" % text)
            self.failed = text
        ok = self.is_set()
        if ok:
            if self.failed is not None or self.next_sync is None:
                self.say("clock: set by NTP, %s UTC" % port.format_utc(self.board.unix_time()))
            self.failed = None
        self.next_sync = port.ticks_add(now, NTP_RESYNC_MS if ok else NTP_RETRY_MS)
        return ok

    def keep(self, now_ms, online):
        """From the main loop: sync when due and Wi-Fi is up."""
        if self.next_sync is None and self.is_set():
            self.next_sync = port.ticks_add(now_ms, NTP_RESYNC_MS)  # boot.py set it
        if online and (self.next_sync is None or port.ticks_diff(now_ms, self.next_sync) >= 0):
            self.sync()


class Device:
    """The engine's life on a board; see the module docstring for its states.

    ``sessions`` and ``mqtt_client`` go to the Runner (tests run without sockets).
    """

    def __init__(self, board, sessions=None, mqtt_client=None):
        self.board = board
        self.sessions = sessions
        self.mqtt_client = mqtt_client
        self.say = board.console
        self.clock = WallClock(board, self.say)
        self.wifi = None
        self.runner = None
        self.site = None
        self.rules_from = None
        self.turns = 0
        self.idles = 0
        self.stop = None
        self.booted_ms = board.ticks_ms()
        self.crash_window_ms = CRASH_WINDOW_MS

    def stamp(self):
        """The log's time prefix: UTC once the clock is set, before that seconds since main.py started."""
        now = self.board.unix_time()
        if port.time_of_day("UTC", now) is None:
            return "+%ds" % (port.ticks_diff(self.board.ticks_ms(), self.booted_ms) // 1000)
        return port.format_utc(now)

    def _stopped(self):
        return self.stop is not None and self.stop()

    # --- boot.py ----------------------------------------------------------

    def boot(self):
        """boot.py: the watchdog, Wi-Fi (within WIFI_BOOT_MS), the clock.  True if online."""
        self.board.start_watchdog(WATCHDOG_MS)
        try:
            ssid, password = read_wifi(self.board)
        except ConfigError as e:
            self.say("boot: %s; no Wi-Fi until it is fixed" % e)
            return False
        self.wifi = Wifi(self.board, ssid, password, self.say)
        if not self.wifi.connect(WIFI_BOOT_MS):
            self.say("clock: not set (no Wi-Fi); rules with `during` stay off until it is")
            return False
        self.clock.sync()
        return True

    # --- main.py ----------------------------------------------------------

    def run(self, stop=None):
        """main.py: LOAD, RUN, IDLE, and on a crash the ring file and a reset.  Returns only when ``stop()`` is true or after a reset request."""
        self.stop = stop
        self.board.start_watchdog(WATCHDOG_MS)
        try:
            while not self._stopped():
                if self.start():
                    self.loop()
        except Exception as e:
            self.crashed(e)

    def idle(self, reason, wait_ms=IDLE_RETRY_MS):
        """The safe idle loop: nothing runs or is written; the watchdog is fed for ``wait_ms``."""
        self.idles += 1
        self.say("idle: %s; nothing is written; trying again in %d s" % (reason, wait_ms // 1000))
        began = self.board.ticks_ms()
        while not self._stopped():
            self.board.feed()
            left = wait_ms - port.ticks_diff(self.board.ticks_ms(), began)
            if left <= 0:
                return
            self.board.sleep_ms(min(IDLE_SLICE_MS, left))

    def load_site(self):
        """The site from /config.json and /secrets.json (rules always from /rules); ConfigError otherwise."""
        secrets_path = self.board.path(SECRETS)
        secrets = config.read_json(secrets_path, "secrets")
        ssid, password = config.wifi(secrets, secrets_path)
        path = self.board.path(CONFIG)
        site = config.Site(config.read_json(path, "config"), secrets, path, secrets_path)
        site.rules = [self.board.path(RULES)]
        if self.wifi is None or self.wifi.ssid != ssid or self.wifi.password != password:
            self.wifi = Wifi(self.board, ssid, password, self.say)
        return site

    def start(self):
        """LOAD: the site and a Runner on the rules in /rules or the last good ones.  False after idling."""
        self.runner = None
        try:
            site = self.load_site()
        except (ConfigError, ModuleMissing) as e:  # ModuleMissing: a cloud adapter checks its own entry
            self.idle(str(e))
            return False
        log = port.Log(_LEVELS.get(str(site.log_level).lower(), port.INFO), self.say, self.stamp)
        folder = self.board.path(RULES)
        good = self.board.path(GOOD_RULES)
        try:
            rs = parser.load(site.rules)
            for warning in rs.warnings:
                self.say("rules: %s" % warning)
            runner = self._runner(site, log, rs)
            self.rules_from = folder
            self._keep_good(rs)
        except ModuleMissing as e:
            self.idle(str(e))  # no rule set helps: the board lacks code this config needs
            return False
        except (RuleError, SunshiftError) as e:
            self._problems(folder, e)
            try:
                rs = self._load_good()
            except (OSError, ValueError):
                self.idle("the rules in %s fail check and there is no earlier good set (%s)" % (folder, good))
                return False
            try:
                runner = self._runner(site, log, rs)
            except (RuleError, SunshiftError) as e2:
                self._problems(good, e2)
                self.idle("neither the rules in %s nor the last good ones in %s can run" % (folder, good))
                return False
            self.say("rules: keeping the last good rules (%s: %d rules in %d files) until %s passes check" % (good, len(rs.rules), len(rs.files), folder))
            self.rules_from = good
        self.site = site
        self.runner = runner
        gc.collect()
        return True

    def _runner(self, site, log, rs):
        try:
            return app.Runner(site, log, ruleset=rs, mqtt_client=self.mqtt_client, sessions=self.sessions, ticks_ms=self.board.ticks_ms)
        except ImportError as e:  # the MQTT backend, say, after a device moved to MQTT
            raise ModuleMissing("a module this config needs is not installed here (%s); deploy again with this config" % e)

    def _problems(self, where, e):
        problems = getattr(e, "problems", None)
        if problems:
            for p in problems:
                self.say("rules: %s" % p)
        else:
            self.say("rules: %s: %s" % (where, e))

    def _keep_good(self, rs):
        """Save the rule set that passed as the good copy (only when it changed: flash wears)."""
        path = self.board.path(GOOD_RULES)
        try:
            text = port.json_dumps([[name, port.read_text(name)] for name in rs.files])
            try:
                if port.read_text(path) == text:
                    return
            except (OSError, UnicodeError):
                pass
            port.write_atomic(path, text)
        except OSError as e:
            self.say("rules: cannot save the good copy %s (%s)" % (path, e))

    def _load_good(self):
        """The good copy as a RuleSet; OSError or ValueError when there is none."""
        sources = port.json_loads(port.read_text(self.board.path(GOOD_RULES)))
        if not isinstance(sources, list):
            raise ValueError("not a list")
        try:
            return parser.compile_sources([(pair[0], pair[1]) for pair in sources])
        except RuleError as e:
            self._problems(self.board.path(GOOD_RULES), e)
            raise ValueError("the good copy fails check")

    def loop(self):
        """RUN: turns until ``stop()``; exceptions go up to :meth:`run`."""
        board = self.board
        runner = self.runner
        zone = self.site.timezone
        engine_clock = port.Monotonic(board.ticks_ms)
        began = board.ticks_ms()
        crashes = self.crash_count()
        runner.log.info("site", "running %d rules on %d devices (rules from %s)" % (len(runner.rules.rules), len(runner.adapters), self.rules_from))
        while not self._stopped():
            now_ms = board.ticks_ms()
            board.feed()
            online = self.wifi.keep(now_ms)
            self.clock.keep(now_ms, online)
            runner.step(engine_clock.read(), port.time_of_day(zone, board.unix_time()), now_ms)
            self.turns += 1
            if crashes and port.ticks_diff(board.ticks_ms(), began) >= self.crash_window_ms:
                crashes = 0
                port.remove(board.path(CRASHES))
                self.say("crashes: the engine ran %d s without one; the crash count starts again" % (self.crash_window_ms // 1000))
            board.sleep_ms(runner.next_wait_ms(board.ticks_ms()))

    # --- crashes ------------------------------------------------------------

    def crash_count(self):
        """Crashes in a row, each within CRASH_WINDOW_MS of a start (from /crashes.json)."""
        try:
            count = port.json_loads(port.read_text(self.board.path(CRASHES))).get("count", 0)
        except (OSError, ValueError, AttributeError):
            return 0
        return count if isinstance(count, int) and count > 0 else 0

    def crashed(self, e):
        """CRASH: log to the ring file, then reset (after idling when it keeps crashing)."""
        board = self.board
        count = self.crash_count() + 1
        entry = "%s crash %d: %s" % (self.stamp(), count, describe(e))
        self.say(entry)
        try:
            port.write_atomic(board.path(CRASHES), port.json_dumps({"count": count}))
            append_ring(board.path(ERRORS), entry)
        except OSError as failure:
            self.say("crash: cannot write %s (%s)" % (ERRORS, failure))
        if count >= CRASH_LIMIT:
            wait = min(CRASH_IDLE_MS << min(count - CRASH_LIMIT, 8), CRASH_IDLE_MAX_MS)
            self.idle("%d crashes in a row, each within %d s of a start (see /%s)" % (count, self.crash_window_ms // 1000, ERRORS), wait)
            if self._stopped():
                return
        else:
            _pause(board, CRASH_PAUSE_MS)
        self.say("restarting the board")
        board.reset()


def boot():
    """boot.py's work on a real board: never raises (main.py must still run)."""
    try:
        Device(hardware()).boot()
    except Exception as e:
        print("boot: %s" % describe(e))


def main():
    """main.py's work on a real board: runs until the board resets."""
    Device(hardware()).run()
