"""The figures of a run: energy produced, kept, exported and imported, and how
each target was driven.

Energy is the area under the power samples: a sample holds until the next one
of the same signal (a step, as the engine reads it).  A gap longer than
``max_gap`` between two samples is not guessed at; its length is reported as
unmeasured time instead.  So a trace whose Envoy drops out for ten minutes
says so rather than inventing ten minutes of sun.
"""

from .. import units
from ..forecast import Forecast
from ..port import json_dumps

PRODUCTION = "envoy.production"
NET = "envoy.net_consumption"
NOT_SET = "(not set)"
# The loads whose energy the figures add up when a day has them: what went
# into the car and what the heat pump's compressor drew.
LOADS = (("car_kwh", "evcc.loadpoints.1.chargePower", "into the car"), ("heat_pump_kwh", "emsesp.boiler.hpcurrpower", "heat pump"))
# The prices, when a day has them (evcc's tariffs): imports cost the grid
# price of their slot, exports earn the feed-in price of theirs.
GRID = "evcc.tariff.grid"
FEEDIN = "evcc.tariff.feedin"


class _Meter:
    """The integral of one power signal, split into its positive and negative parts."""

    def __init__(self, max_gap, prices=None):
        self.max_gap = max_gap
        self.at = None
        self.value = 0.0
        self.positive = 0.0  # W*s
        self.negative = 0.0  # W*s, as a positive number
        self.unmeasured = 0.0  # s
        self.prices = prices  # {GRID: Forecast, FEEDIN: Forecast} to cost the flow by, or None
        self.cost = 0.0  # W*s times price: what the positive part cost
        self.earned = 0.0  # ... and what the negative part earned
        self.unpriced = 0.0  # W*s with no price known

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
            if self.prices:
                self._price(GRID, self.value * span)
        else:
            self.negative -= self.value * span
            if self.prices and self.value:
                self._price(FEEDIN, self.value * span)
        self.at = t

    def _price(self, name, amount):
        fc = self.prices.get(name)
        price = None if fc is None else fc.at(self.at)
        if price is None:
            self.unpriced += abs(amount)
        elif amount > 0:
            self.cost += amount * price
        else:
            self.earned -= amount * price


class Summary:
    """Collects a run's samples and changes; ``figures(end)`` gives the totals.

    ``production`` and ``net`` name the power signals (W; net is + import,
    - export, as the Envoy's net-consumption CT reads).
    """

    def __init__(self, max_gap=120, production=PRODUCTION, net=NET):
        self.names = (production, net) + tuple(signal for _, signal, _ in LOADS)
        self.index = {}
        for k, name in enumerate(self.names):
            self.index[name] = k
        self.prices = {}
        self.meters = [_Meter(max_gap) for _ in self.names]
        self.meters[1].prices = self.prices
        self.seen = [False] * len(self.names)
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
            if type(value) is Forecast:
                if name == GRID or name == FEEDIN:
                    self.prices[name] = value
                continue
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
        produce, net = self.meters[0], self.meters[1]
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
        for k, (key, _, _) in enumerate(LOADS):
            if self.seen[2 + k]:
                out[key] = _round(self.meters[2 + k].positive / 3600000)
        if self.prices:
            # Prices per kWh times W*s: / 3,600,000 gives the money.
            out["import_cost"] = _round(net.cost / 3600000)
            out["export_value"] = _round(net.earned / 3600000)
            out["net_cost"] = _round((net.cost - net.earned) / 3600000)
            out["unpriced_kwh"] = _round(net.unpriced / 3600000)
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
    for key, _, words in LOADS:
        if key in figures:
            out.append("  %-15s %s" % (words, _kwh(figures[key])))
    if "import_cost" in figures:
        sign = units.currency[0]
        out.append("  import cost     %s%.2f" % (sign, figures["import_cost"]))
        out.append("  export value    %s%.2f" % (sign, figures["export_value"]))
        out.append("  net cost        %s%.2f" % (sign, figures["net_cost"]))
        if figures["unpriced_kwh"]:
            out.append("  no price for    %s (not counted)" % _kwh(figures["unpriced_kwh"]))
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


# The figures compare() sets side by side: (key, words, how to show it).
_COMPARED = (
    ("produced_kwh", "produced", "kwh"),
    ("self_consumed_kwh", "self-consumed", "kwh"),
    ("exported_kwh", "exported", "kwh"),
    ("imported_kwh", "imported", "kwh"),
    ("car_kwh", "into the car", "kwh"),
    ("heat_pump_kwh", "heat pump", "kwh"),
    ("import_cost", "import cost", "money"),
    ("export_value", "export value", "money"),
    ("net_cost", "net cost", "money"),
)


def _shown(value, how):
    if value is None:
        return "-"
    if how == "money":
        return "%s%.2f" % (units.currency[0], value)
    return _kwh(value)


def compare(ours, theirs, our_name, their_name):
    """Lines with two runs' figures side by side, and what the first saves or costs more."""
    width = max(14, len(our_name), len(their_name)) + 2
    out = ["  %-15s %-*s %-*s %s" % ("", width, our_name, width, their_name, "difference")]
    for key, words, how in _COMPARED:
        if key not in ours and key not in theirs:
            continue
        a, b = ours.get(key), theirs.get(key)
        diff = ""
        if a is not None and b is not None:
            delta = a - b
            diff = ("+" if delta > 0 else "-" if delta < 0 else "") + _shown(abs(delta), how)
            if how == "money" and b:
                diff += " (%+d%%)" % round(100 * delta / abs(b))
        out.append("  %-15s %-*s %-*s %s" % (words, width, _shown(a, how), width, _shown(b, how), diff))
    return out
