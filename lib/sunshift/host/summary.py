"""The figures of a run: energy produced, kept, exported and imported, and how
each target was driven.

Energy is the area under the power samples: a sample holds until the next one
of the same signal (a step, as the engine reads it).  A gap longer than
``max_gap`` between two samples is not guessed at; its length is reported as
unmeasured time instead.  So a trace whose Envoy drops out for ten minutes
says so rather than inventing ten minutes of sun.
"""

from .. import units
from ..port import json_dumps

PRODUCTION = "envoy.production"
NET = "envoy.net_consumption"
NOT_SET = "(not set)"


class _Meter:
    """The integral of one power signal, split into its positive and negative parts."""

    def __init__(self, max_gap):
        self.max_gap = max_gap
        self.at = None
        self.value = 0.0
        self.positive = 0.0  # W*s
        self.negative = 0.0  # W*s, as a positive number
        self.unmeasured = 0.0  # s

    def add(self, t, value):
        self.close(t)
        self.at = t
        self.value = value

    def close(self, t):
        """Count the held value up to ``t``."""
        if self.at is None or t <= self.at:
            return
        span = t - self.at
        if span > self.max_gap:
            self.unmeasured += span
        elif self.value > 0:
            self.positive += self.value * span
        else:
            self.negative -= self.value * span
        self.at = t


class Summary:
    """Collects a run's samples and changes; ``figures(end)`` gives the totals.

    ``production`` and ``net`` name the power signals (W; net is + import,
    - export, as the Envoy's net-consumption CT reads).
    """

    def __init__(self, max_gap=120, production=PRODUCTION, net=NET):
        self.names = (production, net)
        self.index = {production: 0, net: 1}
        self.meters = (_Meter(max_gap), _Meter(max_gap))
        self.seen = [False, False]
        self.begin = None
        self.changes = {}  # target -> number of changes
        self.current = {}  # target -> (value, since)
        self.time_in = {}  # target -> {value text: seconds}

    def sample(self, t, samples):
        """One row of samples [(signal, value)] taken at ``t``."""
        if self.begin is None:
            self.begin = t
        index = self.index
        for name, value in samples:
            if name in index:  # one set lookup per cell: sim calls this for every row of a trace
                k = index[name]
                if (type(value) is int or type(value) is float) and value - value == 0:
                    self.meters[k].add(t, value)
                    self.seen[k] = True

    def change(self, change):
        """A target change the engine made (an engine.Change)."""
        target = change.target
        if self.begin is None:
            self.begin = change.t
        self.changes[target] = self.changes.get(target, 0) + 1
        self._hold(target, change.t)
        self.current[target] = (_text(change.value), change.t)

    def _hold(self, target, t):
        value, since = self.current.get(target, (NOT_SET, self.begin))
        if t > since:
            spent = self.time_in.setdefault(target, {})
            spent[value] = spent.get(value, 0) + (t - since)

    def figures(self, end):
        """The totals up to time ``end`` as a dict (kWh, ratios, counts, seconds)."""
        for meter in self.meters:
            meter.close(end)
        begin = self.begin if self.begin is not None else end
        out = {"span_s": end - begin}
        produce, net = self.meters
        produced = produce.positive / 3600000 if self.seen[0] else None
        imported = net.positive / 3600000 if self.seen[1] else None
        exported = net.negative / 3600000 if self.seen[1] else None
        kept = None
        if produced is not None and exported is not None:
            kept = max(0.0, produced - exported)
        consumed = None
        if kept is not None:
            consumed = kept + imported
        out["produced_kwh"] = _round(produced)
        out["consumed_kwh"] = _round(consumed)
        out["self_consumed_kwh"] = _round(kept)
        out["exported_kwh"] = _round(exported)
        out["imported_kwh"] = _round(imported)
        out["self_consumption"] = _ratio(kept, produced)
        out["self_sufficiency"] = _ratio(kept, consumed)
        out["unmeasured_s"] = max(produce.unmeasured, net.unmeasured)
        time_in = {}
        for target in self.time_in:
            time_in[target] = dict(self.time_in[target])
        for target in self.current:
            value, since = self.current[target]
            spent = time_in.setdefault(target, {})
            spent[value] = spent.get(value, 0) + (end - since)
        out["changes"] = dict(self.changes)
        out["time_in_value_s"] = time_in
        return out


def _text(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is float and value == int(value):
        value = int(value)
    return str(value)


def _round(value):
    return None if value is None else round(value, 3)


def _ratio(part, whole):
    if part is None or whole is None or whole <= 0:
        return None
    return round(part / whole, 3)


def to_json(figures):
    """The figures as one JSON document with keys sorted at every level (the same on every interpreter)."""
    items = []
    for key in sorted(figures):
        value = figures[key]
        items.append("%s: %s" % (json_dumps(key), to_json(value) if type(value) is dict else json_dumps(value)))
    return "{" + ", ".join(items) + "}"


def _kwh(value):
    if value is None:
        return "-"
    # Three significant figures or so: a short test trace is a few Wh, a day tens of kWh.
    return ("%.3f kWh" if value < 1 else "%.2f kWh" if value < 10 else "%.1f kWh") % value


def _percent(value):
    return "" if value is None else " (%d%%)" % round(value * 100)


def lines(figures):
    """The figures as readable lines for a terminal."""
    out = []
    out.append("  produced        %s" % _kwh(figures["produced_kwh"]))
    out.append("  self-consumed   %s%s of it" % (_kwh(figures["self_consumed_kwh"]), _percent(figures["self_consumption"])))
    out.append("  exported        %s" % _kwh(figures["exported_kwh"]))
    out.append("  imported        %s" % _kwh(figures["imported_kwh"]))
    if figures["consumed_kwh"] is not None:
        out.append("  consumed        %s%s from the sun" % (_kwh(figures["consumed_kwh"]), _percent(figures["self_sufficiency"])))
    if figures["unmeasured_s"]:
        out.append("  no power data   for %s (not counted)" % units.format_duration(int(figures["unmeasured_s"])))
    changes = figures["changes"]
    spent = figures["time_in_value_s"]
    for target in sorted(spent):
        n = changes.get(target, 0)
        shares = []
        for value in sorted(spent[target], key=lambda v: -spent[target][v]):
            shares.append("%s %s" % (value, units.format_duration(int(spent[target][value]))))
        out.append("  %s: %d change%s; %s" % (target, n, "" if n == 1 else "s", ", ".join(shares)))
    return out
