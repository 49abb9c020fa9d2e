"""From the engine's decisions to the devices: one step of the real-time loop.

The engine decides; this module logs each decision and hands the writes to a
``write(target, value)`` function (the device adapters provide it).  In
dry-run it logs the writes it would make and sends nothing, so a new rule set
can run against the real site for a day before it may touch anything.
"""

from .. import units
from ..errors import SunshiftError

# How long a target whose write failed waits before the engine tries again:
# RETRY_AFTER seconds after the first failure, doubling with each further one
# in a row, up to RETRY_MAX (unless the device says how long, as Enode does).
RETRY_AFTER = 5
RETRY_MAX = 300


class Dispatcher:
    """Ticks ``engine`` and carries out its changes through ``write``.

    ``write(target, value)`` returns normally when the device took the value
    and raises a SunshiftError (or OSError) naming device and endpoint when
    it did not; the engine then retries after ``retry_after`` seconds, twice
    as long after each further failure in a row, at most ``retry_max``.
    """

    def __init__(self, engine, write, log, dry_run=False, retry_after=RETRY_AFTER, describe=None, retry_max=RETRY_MAX):
        self.engine = engine
        self.describe = describe
        self.write = write
        self.log = log
        self.dry_run = dry_run
        self.retry_after = retry_after
        self.retry_max = retry_max
        self.failures = {}  # target -> error text, to log once per episode
        self.attempts = {}  # target -> failed writes in a row

    def step(self, now, tod=None):
        """Tick the engine at ``now`` and dispatch its changes; returns them."""
        changes = self.engine.tick(now, tod)
        for _, source, text in self.engine.take_events():
            self.log.info(source, text)
        for change in changes:
            shown = units.format_value(change.value)
            try:
                if self.dry_run:
                    # Checked as the real write checks it: what it would refuse fails here too.
                    request = self._request(change)
                else:
                    self.write(change.target, change.value)
            except (SunshiftError, OSError) as e:
                # A device may say how long to wait (Enode's Retry-After, or a refusal that needs a person).
                tries = self.attempts.get(change.target, 0) + 1
                self.attempts[change.target] = tries
                wait = getattr(e, "retry_after", None) or min(self.retry_max, self.retry_after * 2 ** (tries - 1))
                self.engine.write_failed(change.target, now, wait)
                text = str(e)
                if self.failures.get(change.target) != text:
                    self.failures[change.target] = text
                    kind = getattr(e, "kind", None)
                    if kind == "closed":
                        # Not connected yet (or again): the runner re-sends on connect.
                        self.log.info(change.target, "%s waits for the connection: %s" % (shown, text))
                    elif kind == "busy":
                        # The device's connection is in use by a slow poll (site/runner.py).
                        self.log.info(change.target, "%s waits: %s; trying again in %ds" % (shown, text, wait))
                    else:
                        said = "dry-run: would not set" if self.dry_run else "could not set"
                        self.log.warn(change.target, "%s %s: %s; trying again in %ds" % (said, shown, text, wait))
                continue
            self.attempts.pop(change.target, None)
            if self.dry_run:
                self.failures.pop(change.target, None)
                self.log.info(change.target, "dry-run: would set %s (%s: %s)%s" % (shown, change.rule, change.reason, request))
                continue
            if change.target in self.failures:
                del self.failures[change.target]
                self.log.info(change.target, "reachable again")
            self.log.info(change.target, "set %s (%s: %s)" % (shown, change.rule, change.reason))
        return changes

    def _request(self, change):
        """'; it would ...' with the request a dry-run write would send, where the device can say."""
        if self.describe is None:
            return ""
        text = self.describe(change.target, change.value)
        return "; it would " + text if text else ""
