"""The engine's life on a board: LOAD, RUN, IDLE and CRASH.

boot.py calls :func:`boot` and main.py :func:`main`; both use :class:`Supervisor`,
which takes the hardware as a board.hardware.Board so that tests drive it with
fakes and a fake clock.

The loop (docs/device.md): LOAD the config, secrets and rules -> RUN turns
(feed the watchdog, keep Wi-Fi and the clock, step the Runner: Runner.run);
a file that cannot be used -> IDLE (nothing written, watchdog fed, LOAD again
later); an unexpected exception -> CRASH (logged to the ring file, then a
reset, or IDLE first when the board keeps crashing).
"""

import gc

from .. import port
from ..errors import ConfigError, ModuleMissing, RuleError, SunshiftError
from ..lang import ruleset
from ..site import config
from ..site.runner import Runner
from .hardware import SLICE_MS, WIFI_BOOT_MS, Board, WallClock, Wifi, append_ring, hardware, pause

__all__ = ("Board", "Supervisor", "boot", "main")

# Files on the board, under its root "/" (tools/board_files.py copies them there).
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

# Idle: read the files again this often (sleeping in slices of SLICE_MS).
IDLE_RETRY_MS = 30000

# Crashes: pause before a reset; CRASH_LIMIT crashes in a row, each before the
# engine ran CRASH_WINDOW_MS, mean idling CRASH_IDLE_MS (doubling with every
# further crash, up to CRASH_IDLE_MAX_MS) before the next reset.
CRASH_PAUSE_MS = 5000
CRASH_LIMIT = 3
CRASH_WINDOW_MS = 600000
CRASH_IDLE_MS = 600000
CRASH_IDLE_MAX_MS = 3600000

_LEVELS = {"debug": port.DEBUG, "info": port.INFO, "warn": port.WARN, "warning": port.WARN, "error": port.ERROR}


def read_wifi(board):
    """(ssid, password) from the board's secrets file, or ConfigError."""
    path = board.path(SECRETS)
    return config.wifi(config.read_json(path, "secrets"), path)


class Supervisor:
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
        self.began_ms = None  # when RUN began
        self.crashes = 0  # crashes in a row before this RUN

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
            self.board.sleep_ms(min(SLICE_MS, left))

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
        except (ConfigError, ModuleMissing) as e:  # ModuleMissing: an adapter this board lacks
            self.idle(str(e))
            return False
        log = port.Log(_LEVELS.get(str(site.log_level).lower(), port.INFO), self.say, self.stamp)
        folder = self.board.path(RULES)
        good = self.board.path(GOOD_RULES)
        try:
            rs = ruleset.load(site.rules)
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
            return Runner(site, log, ruleset=rs, mqtt_client=self.mqtt_client, sessions=self.sessions, ticks_ms=self.board.ticks_ms)
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
            return ruleset.compile_sources([(pair[0], pair[1]) for pair in sources])
        except RuleError as e:
            self._problems(self.board.path(GOOD_RULES), e)
            raise ValueError("the good copy fails check")

    def loop(self):
        """RUN: turns until ``stop()``; exceptions go up to :meth:`run`."""
        board = self.board
        runner = self.runner
        zone = self.site.timezone
        self.began_ms = board.ticks_ms()
        self.crashes = self.crash_count()
        runner.log.info("site", "running %d rules on %d devices (rules from %s)" % (len(runner.rules.rules), len(runner.adapters), self.rules_from))

        def before(now_ms):
            board.feed()
            self.clock.keep(now_ms, self.wifi.keep(now_ms))

        def time_of_day():
            return port.time_of_day(zone, board.unix_time())

        runner.run(port.Monotonic(board.ticks_ms).read, time_of_day, self._stopped, board.ticks_ms, board.sleep_ms, before, self._turned)

    def _turned(self):
        """After each turn: count it, and forget the crashes once the engine has run long enough."""
        self.turns += 1
        if self.crashes and port.ticks_diff(self.board.ticks_ms(), self.began_ms) >= self.crash_window_ms:
            self.crashes = 0
            port.remove(self.board.path(CRASHES))
            self.say("crashes: the engine ran %d s without one; the crash count starts again" % (self.crash_window_ms // 1000))

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
        entry = "%s crash %d: %s" % (self.stamp(), count, port.format_exception(e))
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
            pause(board, CRASH_PAUSE_MS)
        self.say("restarting the board")
        board.reset()


def boot():
    """boot.py's work on a real board: never raises (main.py must still run)."""
    try:
        Supervisor(hardware()).boot()
    except Exception as e:
        print("boot: %s" % port.format_exception(e))


def main():
    """main.py's work on a real board: runs until the board resets."""
    Supervisor(hardware()).run()
