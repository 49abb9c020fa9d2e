"""Waiting longer after each failure: reconnects that do not hammer a broker or device."""

from ..port import ticks_add, ticks_diff


class Backoff:
    """Delays of ``first``, 2x, 4x ... up to ``longest`` seconds between attempts.

    Times are ticks in milliseconds (port.ticks_ms), so it is wrap-safe.
    """

    def __init__(self, first=1, longest=60):
        self.first = first
        self.longest = longest
        self.delay = 0
        self.next_at = None

    def due(self, now_ms):
        """True if an attempt may be made now."""
        return self.next_at is None or ticks_diff(now_ms, self.next_at) >= 0

    def failed(self, now_ms):
        """An attempt failed: the next one waits longer."""
        self.delay = self.first if self.delay == 0 else min(self.delay * 2, self.longest)
        self.next_at = ticks_add(now_ms, int(self.delay * 1000))

    def succeeded(self):
        """An attempt worked: the next failure starts from the shortest delay."""
        self.delay = 0
        self.next_at = None
