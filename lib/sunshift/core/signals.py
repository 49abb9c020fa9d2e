"""The latest value of every signal, when it was sampled, and history where a window needs it."""

from .series import Series


class Signals:
    """Values by dotted name (device signals) or plain name (lets), with sample times."""

    def __init__(self):
        # The dicts are kept for the store's whole life (the evaluator holds on to `values`).
        self.values = {}
        self.times = {}
        self.series = {}
        self.forecasts = {}  # name -> Forecast, for the signals that are one
        # Counts what can leave a signal less fresh than before: a sample with
        # no value or older than the latest, a signal forgotten.  While it stays
        # the same, inputs found fresh stay fresh until their limits pass.
        self.setbacks = 0
        self.latest = None  # the latest sample time

    def track(self, name, window, extremes=True):
        """Keep history of ``name`` long enough for windows of ``window`` seconds
        (with ``extremes``, for min and max as well as averages)."""
        old = self.series.get(name)
        if old is not None:
            if old.window >= window and (old.lows is not None or not extremes):
                return
            window = max(window, old.window)
            extremes = extremes or old.lows is not None
        self.series[name] = Series(window, extremes=extremes)

    def update(self, name, value, t):
        """Record a sample of ``name`` taken at time ``t``; a Forecast's value is
        that of its slot at ``t`` (see ``ahead``)."""
        kind = type(value)
        if kind is not float and kind is not int and kind is not str and kind is not bool and value is not None:
            # The one other kind of value a device gives: a forecast.Forecast (not
            # imported here: a board whose rules read none never loads it).
            self.forecasts[name] = value
            value = value.at(t)
        if value is None or t is None:
            self.setbacks += 1
        elif self.latest is None or t >= self.latest:
            self.latest = t
        else:
            self.setbacks += 1
        self.values[name] = value
        self.times[name] = t
        history = self.series.get(name)
        if history is not None:
            remember(history, value, t)

    def ahead(self, now):
        """Move every forecast's value on to the slot that holds ``now``.  A forecast
        is fresh while it has a slot for now, however long ago it was read (prices
        published a day ahead stay true), and stale once it has none."""
        values = self.values
        times = self.times
        for name in self.forecasts:
            value = self.forecasts[name].at(now)
            if value is None:
                if values.get(name) is not None:
                    self.setbacks += 1
                values[name] = None
            else:
                values[name] = value
                times[name] = now

    def drop(self, name):
        """Forget the value of ``name``: it reads as missing (stale) until its next sample."""
        self.setbacks += 1
        self.values.pop(name, None)
        self.times.pop(name, None)
        self.forecasts.pop(name, None)


def remember(history, value, t):
    """Add a sample to a signal's history if it is a finite number."""
    kind = type(value)
    if kind is float:
        if value - value == 0:  # NaN and infinity would spoil the window for its whole length
            history.add(t, value)
    elif kind is int:
        try:
            value = float(value)
        except OverflowError:
            return  # an integer beyond any float: not a measurement
        if value - value == 0:
            history.add(t, value)
