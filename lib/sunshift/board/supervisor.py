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

from .. import port
from ..errors import ConfigError, ModuleMissing, RuleError, SunshiftError
from ..site import config
from ..site.runner import Runner
from ..site.state import StateFile, if_set
from .hardware import SLICE_MS, WIFI_BOOT_MS, Board, WallClock, Wifi, append_ring, hardware, pause

__all__ = ("Board", "Supervisor", "boot", "main")

# Files on the board, under its root "/" (tools/board_files.py copies them there).
CONFIG = "config.json"
SECRETS = "secrets.json"
RULES = "rules"  # the rule files, as text: for people, the board does not parse them
COMPILED = "rules.compiled"  # the rules the board runs, compiled by tools/deploy.py (lang/compiled.py)
GOOD_RULES = "rules.good"  # a copy of the last compiled rules that started
ERRORS = "errors.log"  # the ring file of crashes
CRASHES = "crashes.json"  # {"count": n}: crashes in a row, each soon after a start
STATE = "state.json"  # the engine's state (site/state): a reset changes nothing

# The state file is written when a target changes and at most this often
# otherwise: flash wears with every write.
STATE_EVERY_S = 60
# How often the loop looks whether a deploy brought new compiled rules
# (`deploy --rules-only` does not reset the board); they are loaded when two
# looks in a row find the same new file, so never half-copied.
RULES_CHECK_MS = 10000

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
    return config.wifi(config.read_json(path, "secrets", board=True), path)


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
        self.phase = ""  # what LOAD is loading, for a message when memory runs out
        self.crashes = 0  # crashes in a row before this RUN
        self.rules_seen = None  # (size, CRC-32) of /rules.compiled as last loaded or tried
        self.rules_new = None  # a new stamp seen once: loaded when the next look finds it the same (the copy is done)
        self.rules_check_ms = None

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
            try:
                self.crashed(e)
            except MemoryError:
                self.board.reset()  # no memory left even to say so: a reset gives a fresh heap

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
        """The site from /config.json and /secrets.json (its rules: /rules.compiled); ConfigError otherwise."""
        secrets_path = self.board.path(SECRETS)
        secrets = config.read_json(secrets_path, "secrets", board=True)
        ssid, password = config.wifi(secrets, secrets_path)
        path = self.board.path(CONFIG)
        site = config.Site(config.read_json(path, "config", board=True), secrets, path, secrets_path)
        site.rules = [self.board.path(RULES)]
        if self.wifi is None or self.wifi.ssid != ssid or self.wifi.password != password:
            self.wifi = Wifi(self.board, ssid, password, self.say)
        return site

    def start(self):
        """LOAD: the site and a Runner on the compiled rules or the last good ones.  False after idling.

        A MemoryError while loading idles too (and LOAD is tried again): a
        spike at start must not become a crash loop."""
        self.runner = None
        self.phase = "the config"
        try:
            return self._start()
        except MemoryError:
            self.runner = None
            free = port.collect()
            why = "out of memory while loading %s (%s bytes free after collecting)" % (self.phase, free)
            self.idle(why + "; fewer rules or devices, or a board with PSRAM (a plain ESP32 runs the frozen image: firmware/README.md)")
            return False

    def _start(self):
        # The loader of compiled rules is needed only here: imported for the
        # start and forgotten after it, it leaves the heap to the running site.
        from ..lang import compiled

        try:
            return self._load(compiled)
        finally:
            del compiled
            port.unload("sunshift.lang.compiled")

    def _load(self, compiled):
        try:
            site = self.load_site()
        except (ConfigError, ModuleMissing) as e:  # ModuleMissing: an adapter this board lacks
            self.idle(str(e))
            return False
        log = port.Log(_LEVELS.get(str(site.log_level).lower(), port.INFO), self.say, self.stamp)
        compiled_path = self.board.path(COMPILED)
        good = self.board.path(GOOD_RULES)
        self.phase = "the rules in %s (%s bytes)" % (compiled_path, port.file_size(compiled_path))
        try:
            rs = compiled.load(compiled_path)
            self.phase = "the devices"
            runner = self._runner(site, log, rs)
            self.rules_from = compiled_path
            self._texts(rs, compiled)
            self._keep_good(compiled_path, good)
        except ModuleMissing as e:
            self.idle(str(e))  # no rule set helps: the board lacks code this config needs
            return False
        except (RuleError, SunshiftError) as e:
            self._problems(compiled_path, e)
            self.phase = "the last good rules"
            try:
                rs = compiled.load(good)
            except RuleError:
                self.idle("the rules in %s cannot run here and there is no earlier good set (%s)" % (compiled_path, good))
                return False
            try:
                runner = self._runner(site, log, rs)
            except (RuleError, SunshiftError) as e2:
                self._problems(good, e2)
                self.idle("neither the rules in %s nor the last good ones in %s can run" % (compiled_path, good))
                return False
            kept = "%s: %d rules from %d files" % (good, len(rs.rules), len(rs.files))
            self.say("rules: keeping the last good rules (%s) until a deploy brings rules this site can run" % kept)
            self.rules_from = good
        self.site = site
        self.runner = runner
        self.rules_seen = self._compiled_stamp()
        port.collect()
        return True

    def _runner(self, site, log, rs):
        state = StateFile(self.board.path(STATE), log, STATE_EVERY_S, self._wall)
        try:
            runner = Runner(site, log, ruleset=rs, mqtt_client=self.mqtt_client, sessions=self.sessions, ticks_ms=self.board.ticks_ms, state=state)
            runner.wall = self.board.unix_time
            return runner
        except ImportError as e:  # the MQTT backend, say, after a device moved to MQTT
            raise ModuleMissing("a module this config needs is not installed here (%s); deploy again with this config" % e)

    def _wall(self):
        return if_set(self.board.unix_time())

    def _compiled_stamp(self):
        path = self.board.path(COMPILED)
        try:
            return port.file_size(path), port.file_crc(path)
        except OSError:
            return None

    def _check_rules(self, now_ms):
        """Reload the rules when a deploy brought new compiled ones (looked at every RULES_CHECK_MS)."""
        if self.rules_check_ms is not None and port.ticks_diff(now_ms, self.rules_check_ms) < 0:
            return
        self.rules_check_ms = port.ticks_add(now_ms, RULES_CHECK_MS)
        stamp = self._compiled_stamp()
        if stamp is None or stamp == self.rules_seen:
            return
        if stamp != self.rules_new:
            self.rules_new = stamp  # perhaps still being copied: look again next time
            return
        self.rules_seen = stamp
        path = self.board.path(COMPILED)
        # The loader, as at the start: imported for this and forgotten after it.
        from ..lang import compiled

        try:
            try:
                rs = compiled.load(path)
                done = self.runner.reload(rs)
            except (RuleError, SunshiftError) as e:
                self._problems(path, e)
                self.say("rules: %s not reloaded; the running rules stay" % path)
                return
            except MemoryError:
                self.say("rules: out of memory while reloading %s (%s bytes free after collecting); the running rules stay" % (path, port.collect()))
                return
            self.rules_from = path
            self._texts(rs, compiled)
        finally:
            del compiled
            port.unload("sunshift.lang.compiled")
        self._keep_good(path, self.board.path(GOOD_RULES))
        changed = ", ".join(done.fresh) or "none"
        self.say(
            "rules: reloaded from %s: %d unchanged (state and timers carry on); changed or new: %s%s"
            % (path, len(done.kept), changed, "; removed: " + ", ".join(done.gone) if done.gone else "")
        )

    def _problems(self, where, e):
        problems = getattr(e, "problems", None)
        if problems:
            for p in problems:
                self.say("rules: %s" % p)
        else:
            self.say("rules: %s: %s" % (where, e))

    def _texts(self, rs, compiled):
        """Say so when the rule files in /rules are not those the running rules were
        compiled from: a board does not parse, so text copied by hand waits for a deploy."""
        folder = self.board.path(RULES)
        try:
            differs = compiled.stale_texts(rs, folder)
        except OSError:
            return
        finally:
            rs.made_from = ()  # asked once: no need to hold it
        if differs:
            self.say(
                "rules: the files in %s are not those %s was compiled from (%s); the board runs the compiled rules:"
                " check and compile the files on a PC with python3 tools/deploy.py --rules-only" % (folder, self.rules_from, differs)
            )

    def _keep_good(self, path, good):
        """Keep the compiled rules that started as the good copy (only when they changed: flash wears)."""
        try:
            if port.file_size(good) is None or not port.same_files(path, good):
                port.copy_atomic(path, good)
        except OSError as e:
            self.say("rules: cannot save the good copy %s (%s)" % (good, e))

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
            self._check_rules(now_ms)

        def time_of_day():
            return port.time_of_day(zone, board.unix_time())

        runner.run(port.Monotonic(board.ticks_ms).read, time_of_day, self._stopped, board.ticks_ms, board.sleep_ms, before, self._turned)

    def _turned(self):
        """After each turn: count it, say the heap after the first, and forget the crashes once the engine has run long enough."""
        self.turns += 1
        if self.turns == 1:
            # What a board owner can compare with firmware/README.md, section 7.
            heap = port.heap()
            if heap is not None:
                self.say("heap: %d bytes held after the first turn, %d free" % heap)
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
