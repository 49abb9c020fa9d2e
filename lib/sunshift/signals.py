"""The latest value of every signal, when it was sampled, and history where a window needs it."""

from .series import Series


def is_number(value):
    """True for int and float, False for bool (an int on CPython, not on MicroPython)."""
    t = type(value)
    return t is int or t is float


class Signals:
    """Values by dotted name (device signals) or plain name (lets), with sample times."""

    def __init__(self):
        self.values = {}
        self.times = {}
        self.series = {}

    def track(self, name, window):
        """Keep history of ``name`` long enough for windows of ``window`` seconds."""
        old = self.series.get(name)
        if old is None or old.window < window:
            self.series[name] = Series(window)

    def update(self, name, value, t):
        """Record a sample of ``name`` taken at time ``t``."""
        self.values[name] = value
        self.times[name] = t
        history = self.series.get(name)
        if history is not None and is_number(value):
            try:
                value = float(value)
            except OverflowError:
                return  # an integer beyond any float: not a measurement
            if value - value == 0:  # NaN and infinity would spoil the window for its whole length
                history.add(t, value)

    def drop(self, name):
        """Forget the value of ``name``: it reads as missing (stale) until its next sample."""
        self.values.pop(name, None)
        self.times.pop(name, None)

    def value(self, name):
        """The latest value, or None."""
        return self.values.get(name)

    def time(self, name):
        """When the latest value was sampled, or None."""
        return self.times.get(name)
