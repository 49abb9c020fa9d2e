"""`run` as a service (docs/service.md): stop and reload signals, the journal.

systemd stops a service with SIGTERM, and `systemctl reload` (or `kill -HUP`)
asks it to read its rules again.  Python's default for SIGTERM and SIGHUP is
to end the process at once, without a line in the log and without saving the
engine's state; here each only sets a flag that the run loop looks at between
turns (at most 50 ms apart), so the loop ends or reloads cleanly.  A second
Ctrl-C stops at once (KeyboardInterrupt), for a turn stuck in a long timeout.
"""


class Control:
    """What signals asked of the running engine: ``stop_by`` is the name of the
    signal that asked it to stop (None until then); ``reload_asked`` is set by SIGHUP."""

    def __init__(self):
        self.stop_by = None
        self.reload_asked = False
        try:
            import signal
        except ImportError:  # MicroPython: no signals, Ctrl-C is KeyboardInterrupt as ever
            return
        self.names = {}
        for name in ("SIGTERM", "SIGINT", "SIGHUP"):
            number = getattr(signal, name, None)
            if number is not None:
                self.names[number] = name
                signal.signal(number, self._caught)

    def _caught(self, number, frame):
        name = self.names.get(number, str(number))
        if name == "SIGHUP":
            self.reload_asked = True
        elif name == "SIGINT" and self.stop_by is not None:
            raise KeyboardInterrupt
        else:
            self.stop_by = name

    def stopped(self):
        """True once a stop was asked (the run loop's ``stop``)."""
        return self.stop_by is not None

    def take_reload(self):
        """True once per SIGHUP."""
        asked = self.reload_asked
        self.reload_asked = False
        return asked


def under_journal():
    """True when stderr goes to systemd's journal (it sets JOURNAL_STREAM):
    then log lines carry no time of their own, and their level as a priority."""
    import os

    return bool(getattr(os, "getenv", lambda name: None)("JOURNAL_STREAM"))


# How often `run` looks at the rule files for an edit.
WATCH_MS = 2000


class RuleWatch:
    """Reloads the rules when their files change or SIGHUP asks (``before`` of
    the run loop).  An edit is checked first: a broken one is reported with
    path:line:col and the running rules stay; a good one replaces them, and
    the log says which rules changed (Runner.reload keeps the others' state)."""

    def __init__(self, paths, runner, log, control=None, every_ms=WATCH_MS):
        self.paths = paths
        self.runner = runner
        self.log = log
        self.control = control
        self.every_ms = every_ms
        self.next_ms = None
        self.seen = files_stamp(paths)

    def check(self, now_ms):
        """Reload if SIGHUP asked or the files changed since last seen; at most every ``every_ms``."""
        from .. import port

        asked = self.control is not None and self.control.take_reload()
        if not asked and self.next_ms is not None and port.ticks_diff(now_ms, self.next_ms) < 0:
            return
        self.next_ms = port.ticks_add(now_ms, self.every_ms)
        stamp = files_stamp(self.paths)
        if stamp == self.seen and not asked:
            return
        self.seen = stamp
        self.reload("SIGHUP" if asked else "a rule file changed")

    def reload(self, why):
        """Load the rule files and hand them to the runner, or say why not."""
        from ..errors import RuleError, SunshiftError
        from ..lang import ruleset

        try:
            from ..site.catalog import Catalog

            rs = ruleset.load(self.paths, Catalog(self.runner.site.devices))
            done = self.runner.reload(rs)
        except RuleError as e:
            errors = [p for p in e.problems if not p.warning]
            for p in errors:
                self.log.warn("rules", "%s:%d:%d: %s" % (p.path, p.line, p.col, p.message))
            self.log.warn("rules", "not reloaded (%s): %d error%s; the running rules stay" % (why, len(errors), "" if len(errors) == 1 else "s"))
            return False
        except SunshiftError as e:
            self.log.warn("rules", "not reloaded (%s): %s; the running rules stay" % (why, e))
            return False
        for p in rs.warnings:
            self.log.warn("rules", "%s:%d:%d: warning: %s" % (p.path, p.line, p.col, p.message))
        parts = ["%d unchanged (their state and timers carry on)" % len(done.kept)]
        if done.fresh:
            parts.append("changed or new, starting fresh: " + ", ".join(done.fresh))
        if done.gone:
            parts.append("removed: " + ", ".join(done.gone))
        self.log.info("rules", "reloaded (%s): %s" % (why, "; ".join(parts)))
        return True


def files_stamp(paths):
    """What tells an edit of the rule files: each file's path, size and CRC-32
    (a file added to or taken from a folder counts too)."""
    from .. import port
    from ..lang import ruleset

    files, _ = ruleset.rule_files(paths)
    out = []
    for path in sorted(files):
        try:
            out.append((path, port.file_crc(path)))
        except OSError:
            out.append((path, None))
    return out
