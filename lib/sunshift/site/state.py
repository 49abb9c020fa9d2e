"""The engine's state file: saved as decisions change it, read back at start.

What is saved and how it is restored is core/snapshot's; this is the file:
written atomically (a temporary file, flushed and synced where the system
can, then renamed over the old one), whenever the engine's state changed, at
most every ``every`` seconds unless a target's value changed (a write is
saved at once), and on shutdown.  A board passes 60 s: its flash wears with
every write.  A missing, truncated, corrupt or foreign file is said in one
line and ignored (a fresh start); it never stops the engine.  So is a file
that cannot be written: the engine runs on, and says so once.
"""

from .. import jsonpick, port
from ..units import format_duration

SNAPSHOT = "sunshift.core.snapshot"


def _snapshot():
    """core/snapshot, imported for a save or a restore and forgotten after it
    (port.unload): a board saves at most once a minute, and its heap is small."""
    from ..core import snapshot

    return snapshot


# The largest state file read: far above a site's (a few KB), far below what
# would exhaust a board's heap.
MAX_BYTES = 32768


def if_set(unix_seconds):
    """``unix_seconds``, or None when it comes from a clock not yet set (a board before NTP says 2000)."""
    return unix_seconds if port.utc_parts(unix_seconds)[0] >= port.CLOCK_SET_FROM else None


def wall_time():
    """Unix seconds now, or None while the clock is not set."""
    return if_set(port.unix_time())


class StateFile:
    """The state file at ``path`` of the engine a Runner drives; ``log`` hears
    what it did; ``wall()`` gives the wall clock (Unix seconds, or None while
    it is not set)."""

    def __init__(self, path, log, every=2, wall=None):
        self.path = path
        self.log = log
        self.every = every
        self.wall = wall or wall_time
        self.revision = None  # the engine's revision and target revision when last saved
        self.target_revision = None
        self.saved_at = None  # engine time of the last save
        self.trouble = None  # why the last save failed, to say it once
        self.extra = None  # more for `status`, in every save (`run` gives its process id)

    def serve(self, engine):
        """Work for ``engine`` from now on (a new one after a reload): save it at the next turn."""
        self.revision = None

    def read(self):
        """The snapshot in the file, checked; None (said in one line) when there is none or it cannot be used."""
        size = port.file_size(self.path)
        if size is None:
            self.log.info("state", "no saved state in %s: a fresh start" % self.path)
            return None
        data, why = self._load(size)
        if why is None:
            return data
        self.log.warn("state", "%s is not usable (%s); ignored: a fresh start" % (self.path, why))
        return None

    def _load(self, size):
        """(the checked snapshot, None), or (None, why the file of ``size`` bytes cannot be used)."""
        if size > MAX_BYTES:
            return None, "%d bytes, more than a state file holds (%d)" % (size, MAX_BYTES)
        try:
            # Parsed as it is read, through a small buffer: the file never sits
            # whole in memory (at start a board's heap has room, not in one piece).
            with open(self.path, "rb") as f:
                data = jsonpick.load(f)
        except OSError as e:
            return None, "cannot read it: %s" % e
        except jsonpick.JsonError as e:
            return None, "not UTF-8 text" if "UTF-8" in str(e) else "not JSON: truncated or damaged"
        try:
            _snapshot().check(data)
        except ValueError as e:
            return None, str(e)
        finally:
            port.unload(SNAPSHOT)
        return data, None

    def restore(self, engine, now):
        """Give ``engine`` (before its first tick, at engine time ``now``) the saved state; logs what it did."""
        self.serve(engine)
        data = self.read()
        if data is None:
            return None
        wall = self.wall()
        snapshot = _snapshot()
        try:
            done = snapshot.put(engine, data, now, wall)
        finally:
            del snapshot
            port.unload(SNAPSHOT)
        if done.down is None:
            ago = "at an unknown time (the clock was not set)"
        else:
            ago = "%s ago" % format_duration(done.down)
        parts = ["%d rule%s on where %s left off" % (len(done.kept), " carries" if len(done.kept) == 1 else "s carry", "it" if len(done.kept) == 1 else "they")]
        if done.fresh:
            parts.append("start fresh (edited or new): " + ", ".join(done.fresh))
        if done.gone:
            parts.append("no longer in the rules: " + ", ".join(done.gone))
        if done.timers_restarted:
            why = "the downtime is unknown" if done.down is None else "down longer than their inputs' staleness limit"
            parts.append("`for` timers start again (%s): %s" % (why, ", ".join(done.timers_restarted)))
        parts.append("%d target%s known" % (done.targets, "" if done.targets == 1 else "s"))
        self.log.info("state", "restored from %s, saved %s: %s" % (self.path, ago, "; ".join(parts)))
        self.revision = engine.revision
        self.target_revision = engine.target_revision
        self.saved_at = now
        return done

    def due(self, engine, now):
        """True if the engine's state changed since the last save and it is time to save it."""
        if engine.revision == self.revision and engine.target_revision == self.target_revision:
            return False
        if engine.target_revision != self.target_revision or self.saved_at is None:
            return True
        return now - self.saved_at >= self.every

    def save(self, engine, now, extra=None):
        """Write the engine's state now, with ``extra`` (and ``self.extra``: what
        `status` shows beside it); False (said once) if the file cannot be written."""
        snapshot = _snapshot()
        try:
            data = snapshot.take(engine, now, self.wall())
        finally:
            del snapshot
            port.unload(SNAPSHOT)
        if self.extra:
            data.update(self.extra)
        if extra:
            data.update(extra)
        self.revision = engine.revision
        self.target_revision = engine.target_revision
        self.saved_at = now
        try:
            port.write_json_atomic(self.path, data)
        except OSError as e:
            text = str(e)
            if self.trouble != text:
                self.trouble = text
                self.log.warn("state", "cannot save %s (%s); the engine runs on, and a restart would start fresh" % (self.path, text))
            return False
        if self.trouble is not None:
            self.trouble = None
            self.log.info("state", "saved again in %s" % self.path)
        return True
