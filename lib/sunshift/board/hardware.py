"""A board's hardware, behind one seam: the Board (Wi-Fi, watchdog, clocks, reset,
files), the Wi-Fi link that reconnects by itself, the wall clock set by NTP,
and the ring file crashes are written to.

Only :func:`hardware` imports machine, network and ntptime; tests pass a Board
of fakes and a fake clock (tests/portable/test_board.py).
"""

from .. import port
from ..errors import SunshiftError

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

# Long waits sleep in slices this long, so the watchdog is fed.
SLICE_MS = 1000

# The ring file stays under this many bytes; its oldest lines go first.
ERRORS_MAX_BYTES = 4096


class Board:
    """The hardware the board loop uses; every part can be replaced (tests pass fakes).

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
            pause(board, min(self.pause_ms, budget_ms - spent))
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


def pause(board, ms):
    """Sleep ``ms`` in slices, feeding the watchdog."""
    began = board.ticks_ms()
    while True:
        left = ms - port.ticks_diff(board.ticks_ms(), began)
        if left <= 0:
            return
        board.feed()
        board.sleep_ms(min(SLICE_MS, left))


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
