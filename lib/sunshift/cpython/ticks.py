"""MicroPython's ticks functions for CPython (port imports them where ``time`` lacks them).

MicroPython's ticks counters wrap at 2**30 on 32-bit boards (the small-int
range).  These wrap at the same period on purpose, so code that forgets
ticks_diff() breaks on the PC too, not only after 12 days on a board.
"""

import time

_TICKS_MASK = (1 << 30) - 1  # port.TICKS_PERIOD - 1
_TICKS_HALF = 1 << 29


def ticks_ms():
    """Milliseconds from an arbitrary origin, wrapping at port.TICKS_PERIOD."""
    return (time.monotonic_ns() // 1000000) & _TICKS_MASK


def ticks_us():
    """Microseconds from an arbitrary origin, wrapping at port.TICKS_PERIOD."""
    return (time.monotonic_ns() // 1000) & _TICKS_MASK


def ticks_add(ticks, delta):
    """The ticks value ``delta`` after ``ticks``, wrapped."""
    return (ticks + delta) & _TICKS_MASK


def ticks_diff(later, earlier):
    """Signed difference ``later - earlier`` of two wrapped ticks values."""
    return ((later - earlier + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF


def sleep_ms(ms):
    """Sleep for ``ms`` milliseconds."""
    time.sleep(ms / 1000)
