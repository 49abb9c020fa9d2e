"""The portable layer: the one place that picks the CPython or the MicroPython way.

Everything else in sunshift takes ticks, the wall clock, sleeping, JSON, files and
logging from here, so the rest of the code reads the same on both interpreters.
The choice is made by feature detection (``try: import``), never by asking
``sys.implementation``.

Network transports (HTTP, MQTT) are not here: they are backends of their own,
loaded through :func:`backend` so that a board only imports what it uses.  The
CPython backends (sunshift.cpython) are only ever loaded from here, by name.
"""

import gc
import os
import sys
import time

from .errors import MAX_LINE, clip

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        """Stand-in for MicroPython's compile-time constant marker."""
        return value


import json

# --- monotonic ticks -------------------------------------------------------
#
# MicroPython's ticks counters wrap at 2**30 on 32-bit boards (the small-int
# range).  The CPython versions wrap at the same period on purpose, so code that
# forgets ticks_diff() breaks on the PC too, not only after 12 days on a board.

TICKS_PERIOD = const(1 << 30)

try:
    from time import sleep_ms, ticks_add, ticks_diff, ticks_ms, ticks_us
except ImportError:  # CPython: the same functions in sunshift.cpython.ticks, which stays off the board
    _ticks = __import__("sunshift.cpython.ticks", None, None, ["ticks_ms"])
    sleep_ms = _ticks.sleep_ms
    ticks_add = _ticks.ticks_add
    ticks_diff = _ticks.ticks_diff
    ticks_ms = _ticks.ticks_ms
    ticks_us = _ticks.ticks_us


class Monotonic:
    """Whole seconds since creation, from wrapping ticks, that never wrap themselves.

    The engine takes time as an argument; this is where a real loop gets it.
    Whole seconds stay exact as small ints for decades, where a 32-bit float
    would lose the seconds after a few months of uptime.  ``read()`` must be
    called at least once per ``TICKS_PERIOD / 2`` ms (6 days) to see every wrap.
    """

    def __init__(self, ticks=None):
        self._ticks = ticks or ticks_ms
        self._last = self._ticks()
        self._seconds = 0
        self._ms = 0

    def read(self):
        """Seconds since this clock was made (an int)."""
        now = self._ticks()
        self._ms += ticks_diff(now, self._last)
        self._last = now
        if self._ms >= 1000:
            whole = self._ms // 1000
            self._seconds += whole
            self._ms -= whole * 1000
        return self._seconds


# --- wall clock ------------------------------------------------------------

# MicroPython boards count from 2000-01-01, CPython and the unix port from 1970.
UNIX_2000 = const(946684800)
EPOCH_OFFSET = UNIX_2000 if time.gmtime(0)[0] == 2000 else 0


def unix_time():
    """Seconds since 1970-01-01 UTC on every interpreter."""
    return time.time() + EPOCH_OFFSET


def utc_parts(unix_seconds):
    """(year, month, day, hour, minute, second) in UTC for a Unix time."""
    return time.gmtime(int(unix_seconds) - EPOCH_OFFSET)[:6]


def format_utc(unix_seconds):
    """'YYYY-MM-DD HH:MM:SS' for a Unix time, in UTC."""
    y, mo, d, h, mi, s = utc_parts(unix_seconds)
    return "%04d-%02d-%02d %02d:%02d:%02d" % (y, mo, d, h, mi, s)


def make_clock():
    """A function giving monotonic seconds for the engine: float seconds on
    CPython, whole seconds on a board (exact in 32-bit floats for years)."""
    if hasattr(time, "monotonic"):
        return time.monotonic
    return Monotonic().read


# The first year a clock that says so is believed set (a board starts at 2000).
CLOCK_SET_FROM = const(2025)


def time_of_day(zone="local", unix_seconds=None):
    """Seconds after local midnight, or None while the wall clock is not set.

    ``zone`` is "local" (the system's zone; UTC on a board), "UTC", or a fixed
    offset like "+01:00" / "-05:30".
    """
    now = unix_time() if unix_seconds is None else unix_seconds
    if utc_parts(now)[0] < CLOCK_SET_FROM:
        return None
    if zone == "local" and EPOCH_OFFSET == 0 and hasattr(time, "mktime"):
        parts = time.localtime(int(now))
        return parts[3] * 3600 + parts[4] * 60 + parts[5]
    offset = 0
    if zone not in ("local", "UTC", "utc"):
        offset = parse_offset(zone)
    return (int(now) + offset) % 86400


def parse_offset(zone):
    """Seconds east of UTC for "+01:00" / "-05:30"; ValueError otherwise."""
    if len(zone) == 6 and zone[0] in "+-" and zone[3] == ":" and zone[1:3].isdigit() and zone[4:6].isdigit():
        seconds = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        return -seconds if zone[0] == "-" else seconds
    raise ValueError('%r is not a time zone: use "local", "UTC" or an offset like "+01:00"' % zone)


# --- numbers ---------------------------------------------------------------

# ESP32 builds have 32-bit floats; the PC, the unix and WebAssembly ports have
# 64-bit ones.  Arrays of floats use whichever the interpreter computes with.
FLOAT_TYPECODE = "d" if 1.0 + 2.0**-40 != 1.0 else "f"


# --- files -----------------------------------------------------------------

_S_IFMT = const(0xF000)
_S_IFDIR = const(0x4000)
_S_IFREG = const(0x8000)
_EACCES = const(13)
_ELOOP = (40, 62)  # "too many levels of symbolic links": Linux, BSD and macOS


def file_size(path):
    """Size of a file in bytes, or None if it does not exist."""
    try:
        return os.stat(path)[6]
    except OSError:
        return None


def is_dir(path):
    """True if ``path`` is a directory."""
    try:
        return (os.stat(path)[0] & _S_IFMT) == _S_IFDIR
    except OSError:
        return False


def path_kind(path):
    """What is at ``path`` (symbolic links followed), found with stat alone:
    nothing is opened, since opening a FIFO waits for a writer for ever.

    ("file", size) for a regular file, ("dir", 0), ("other", 0) for a FIFO, a
    device or a socket, or (None, why) when nothing usable is there: why is
    "missing", "dangling" (a symbolic link to nothing), "loop" (a loop of
    symbolic links) or "denied"."""
    try:
        st = os.stat(path)
    except OSError as e:
        # Error numbers differ between systems (the WebAssembly build's ENOENT
        # is 44), so a link is told by lstat, which does not follow it.
        code = e.args[0] if e.args else None
        lstat = getattr(os, "lstat", None)  # not on a board, which has no symbolic links
        if lstat is not None:
            try:
                lstat(path)
                return None, "loop" if code in _ELOOP else "dangling"
            except OSError:
                pass
        return None, "denied" if code == _EACCES else "missing"
    mode = st[0] & _S_IFMT
    if mode == _S_IFREG:
        return "file", st[6]
    return ("dir" if mode == _S_IFDIR else "other"), 0


def kind_words(kind):
    """A path_kind answer that is not a file, in the words of an error message."""
    if kind == "missing":
        return "no such file"
    if kind == "dangling":
        return "a symbolic link to a file that does not exist"
    if kind == "loop":
        return "a loop of symbolic links"
    if kind == "dir":
        return "a folder, not a file"
    if kind == "other":
        return "not a regular file (a FIFO, a device or a socket); only plain files are read"
    return "permission denied"


def list_dir(path):
    """Sorted entry names of a directory."""
    return sorted(os.listdir(path))


def join(folder, name):
    """Join two path parts with '/' (there is no os.path on the boards)."""
    if not folder or folder.endswith("/"):
        return folder + name
    return folder + "/" + name


def read_bytes(path, size=None):
    """The whole file as bytes.  ``size``: its size as path_kind found it, so
    the read takes one buffer of that size (MicroPython allocates what read(n)
    asks for, before it reads) and a file that grew since is OSError."""
    with open(path, "rb") as f:
        if size is None:
            return f.read()
        data = f.read(size + 1)
    if len(data) > size:
        raise OSError("the file grew while it was read")
    return data


def read_text(path):
    """The whole file as text, decoded as UTF-8."""
    return read_bytes(path).decode("utf-8")


def _atomic(path, mode, fill):
    """Write ``path`` through ``fill(file)`` into a temporary file beside it,
    flushed and synced where the system can, then renamed over the old one:
    a reader, or a power cut, never sees half a file."""
    tmp = path + ".tmp"
    with open(tmp, mode) as f:
        fill(f)
        if hasattr(os, "fsync"):
            f.flush()
            os.fsync(f.fileno())
    _replace(tmp, path)


def write_atomic(path, data):
    """Replace ``path`` with ``data`` (str or bytes) so a reader never sees half a file."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    _atomic(path, "wb", lambda f: f.write(data))


def write_json_atomic(path, value):
    """Replace ``path`` with ``value`` as JSON, as write_atomic does, written in
    pieces as it is made: the text never sits whole in memory (on a board a
    few KB in one piece may not be free even when the heap has them)."""
    _atomic(path, "w", lambda f: json.dump(value, f))


def _replace(tmp, path):
    if hasattr(os, "replace"):
        os.replace(tmp, path)
        return
    try:
        os.rename(tmp, path)
    except OSError:
        # Some board filesystems (FAT) refuse to rename onto an existing file.
        os.remove(path)
        os.rename(tmp, path)


def same_files(a, b):
    """True if the files at ``a`` and ``b`` hold the same bytes (read in small pieces)."""
    if file_size(a) != file_size(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca = fa.read(512)
            if ca != fb.read(512):
                return False
            if not ca:
                return True


def copy_atomic(source, target):
    """Copy the file ``source`` over ``target`` in small pieces, so a reader never
    sees half a file (as write_atomic) and the copy never needs the whole file in memory."""

    def fill(out):
        with open(source, "rb") as f:
            while True:
                chunk = f.read(512)
                if not chunk:
                    break
                out.write(chunk)

    _atomic(target, "wb", fill)


def file_crc(path):
    """The CRC-32 of a file, read in small pieces."""
    import binascii

    crc = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(512)
            if not chunk:
                return crc
            crc = binascii.crc32(chunk, crc)


def remove(path):
    """Delete a file; no error if it is already gone."""
    try:
        os.remove(path)
    except OSError:
        pass


# --- JSON ------------------------------------------------------------------


def json_loads(text):
    """Parse JSON text; raises ValueError on bad input on both interpreters."""
    return json.loads(text)


def json_dumps(value):
    """Compact JSON text for a value."""
    return json.dumps(value)


# --- memory ----------------------------------------------------------------


_MEM_FREE = getattr(gc, "mem_free", None)  # MicroPython only


def collect():
    """On MicroPython, collect garbage now and return the heap's free bytes.

    MicroPython cannot move objects: collected often, what a step left behind
    is reused at once and the heap stays in one piece.  On CPython it does
    nothing and returns None: reference counting frees most garbage at once,
    and a full collection would cost milliseconds every time."""
    if _MEM_FREE is None:
        return None
    gc.collect()
    return _MEM_FREE()


def heap():
    """On MicroPython, ``(held, free)`` bytes of the heap after collecting; None on CPython."""
    free = collect()
    if free is None:
        return None
    return gc.mem_alloc(), free


def unload(name):
    """Forget the imported module ``name`` (and its package's attribute for it),
    so code needed only at start leaves the heap: a frozen module's bytecode
    stays in flash, but its functions and globals are heap objects for as long
    as it is imported.  An ``import`` later loads it again."""
    sys.modules.pop(name, None)
    package, _, leaf = name.rpartition(".")
    parent = sys.modules.get(package)
    if parent is not None and leaf in parent.__dict__:
        delattr(parent, leaf)


# --- errors ----------------------------------------------------------------


def format_exception(e):
    """An exception with its traceback, as text (for a crash log)."""
    print_exception = getattr(sys, "print_exception", None)
    if print_exception is not None:  # MicroPython
        import io

        out = io.StringIO()
        print_exception(e, out)
        return out.getvalue()
    import traceback  # CPython

    return "".join(traceback.format_exception(type(e), e, e.__traceback__))


# --- logging ---------------------------------------------------------------

DEBUG = const(10)
INFO = const(20)
WARN = const(30)
ERROR = const(40)
_LEVEL_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARN: "WARN", ERROR: "ERROR"}
_PRIORITIES = {DEBUG: 7, INFO: 6, WARN: 4, ERROR: 3}  # syslog's, for the journal


def _stderr_line(line):
    sys.stderr.write(line + "\n")


class Log:
    """A small logger: ``log.warn("envoy", "timed out")``.

    ``sink`` takes each formatted line (stderr by default); ``stamp`` gives the
    time prefix (UTC wall clock by default; the simulator passes virtual time).
    """

    def __init__(self, level=INFO, sink=None, stamp=None, journal=False):
        self.level = level
        self.sink = sink or _stderr_line
        self.stamp = stamp
        # Under systemd's journal: no time (it adds its own), and the level as
        # the syslog priority prefix it reads ("<4>" for a warning), so
        # `journalctl -p warning` finds them.
        self.journal = journal

    def log(self, level, source, message):
        """Write one line if ``level`` is at or above the logger's level."""
        if level < self.level:
            return
        if self.journal:
            when = "<%d>" % _PRIORITIES.get(level, 6)
        else:
            when = (self.stamp() if self.stamp else format_utc(unix_time())) + " "
        # The last defence against a device's text, whatever path it took to get
        # here: control characters escaped, the line at most MAX_LINE characters.
        self.sink(clip("%s%s %s: %s" % (when, _LEVEL_NAMES.get(level, str(level)), source, message), MAX_LINE))

    def debug(self, source, message):
        """Log at DEBUG level."""
        self.log(DEBUG, source, message)

    def info(self, source, message):
        """Log at INFO level."""
        self.log(INFO, source, message)

    def warn(self, source, message):
        """Log at WARN level."""
        self.log(WARN, source, message)

    def error(self, source, message):
        """Log at ERROR level."""
        self.log(ERROR, source, message)


# --- transport backends ----------------------------------------------------

# How many seconds a network call waits for an answer, unless a device's entry
# in the site config says otherwise (its "timeout").
TIMEOUT = const(5)

# The network seam: adapters ask for "http" or "mqtt" and get the module for
# this interpreter.  Each name lists candidates in order; the first that
# imports wins (feature detection, as above).
BACKENDS = {
    "http": ("sunshift.cpython.http", "sunshift.net.http"),
    "mqtt": ("sunshift.cpython.mqtt", "sunshift.net.mqtt"),
    # Each device polled in a thread of its own: CPython only; a board polls in turn.
    "polls": ("sunshift.cpython.polls",),
}


def backend(kind):
    """The backend module for ``kind`` ("http", "mqtt", "polls") on this interpreter."""
    tried = []
    for name in BACKENDS[kind]:
        try:
            module = __import__(name, None, None, ["request"])
        except ImportError as e:
            tried.append("%s (%s)" % (name, e))
            continue
        if getattr(module, "AVAILABLE", True):
            return module
        tried.append("%s (not usable here)" % name)
    raise ImportError("no %s backend: tried %s" % (kind, ", ".join(tried)))
