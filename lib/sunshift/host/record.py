"""A run recorded for its picture: the signals, the derived values, when each
rule was on, every target change, each rule's thresholds and the spans with no
fresh data.  ``Recorder`` collects while a simulation or the demo runs;
``finish`` gives the ``Day`` that plot.py draws.
"""

from .. import units
from ..core.engine import INACTIVE, STATE_NAMES
from ..errors import EvalError
from ..lang import nodes
from ..units import is_number

_UNIT_OF = {units.POWER: "W", units.PERCENT: "%", units.TEMPERATURE: "°C", units.ENERGY: "Wh", units.PRICE: "/kWh", units.CO2: "g/kWh"}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class Day:
    """What plot.py draws; see Recorder for how each part is filled."""

    def __init__(self, start):
        self.start = start  # seconds after midnight of t=0
        self.end = 0
        self.series = {}  # name -> ([t], [value or None])
        self.units = {}  # name -> "W", "%", "°C" or ""
        self.flags = {}  # name -> ([t], [bool])
        self.rules = []  # [(name, title, [(t0, t1 or None, state name)])]
        self.changes = []  # [(t, target, value, rule)]
        self.thresholds = []  # [(rule, name, op, value, "when" | "until")]
        self.stale = []  # [(name, t0, t1)]


def _comparisons(ruleset):
    """[(rule, clause, CMP node)] of every comparison in the rules' conditions."""
    found = []
    for r in ruleset.rules:
        for clause, node in (("when", r.when), ("until", r.until)):
            if node is not None:
                _collect(node, r.name, clause, found)
    return found


def _collect(node, rule, clause, found):
    if node[0] == nodes.CMP:
        found.append((rule, clause, node))
        return
    for child in nodes.children(node):
        if type(child) is tuple:
            _collect(child, rule, clause, found)


def _subject(node):
    kind = node[0]
    if kind == nodes.SIG or kind == nodes.LET:
        return node[1]
    if kind == nodes.WINDOW:
        return node[2]
    return None


def thresholds(ruleset):
    """[(rule, signal or let, op, value, clause)] for every comparison of a
    value with a number in the rules' conditions: the lines worth drawing."""
    found = []
    for rule, clause, (_, op, a, b, _dim) in _comparisons(ruleset):
        if b[0] == nodes.NUM and _subject(a) is not None:
            found.append((rule, _subject(a), op, b[1], clause))
        elif a[0] == nodes.NUM and _subject(b) is not None:
            found.append((rule, _subject(b), _FLIP[op], a[1], clause))
    return found


def _dimensions(ruleset):
    """{name: unit} from how the rules compare each name with numbers."""
    found = {}
    for _, _, (_, _, a, b, dim) in _comparisons(ruleset):
        unit = _UNIT_OF.get(dim)
        if unit:
            for side in (a, b):
                name = _subject(side)
                if name is not None:
                    found.setdefault(name, unit)
    return found


def _choices(node, out):
    """Add (label, node) to ``out`` for each cheapest or cheapest_block in ``node``."""
    if node[0] == nodes.AHEAD and node[1] in ("cheapest", "cheapest_block"):
        # Short enough for a lane's label: "cheapest 3h 18:00-07:00".
        label = "%s %s %s" % (node[1], units.format_duration(node[4]), nodes.span_text(node[3]))
        for known, _ in out:
            if known == label:
                return
        out.append((label, node))
        return
    for child in nodes.children(node):
        _choices(child, out)


def guess_unit(name):
    """A unit from a signal's name, for signals no rule compares with a number."""
    low = name.lower()
    if "temp" in low:
        return "°C"
    if "soc" in low or low.endswith("percent"):
        return "%"
    if low.endswith("tariff.grid") or low.endswith("tariff.feedin"):
        return "/kWh"
    for word in ("power", "production", "consumption", "surplus", "watts"):
        if word in low:
            return "W"
    return ""


class Recorder:
    """Records a run of ``engine`` (an engine.Engine for ``ruleset``).

    Call ``sample`` with each row of samples, ``tick`` after each engine tick,
    ``change`` with each Change, and ``finish`` at the end.  Only names the
    rules read, or that ``keep`` lists, are recorded.
    """

    def __init__(self, ruleset, engine, start=0, keep=()):
        self.engine = engine
        self.day = Day(start)
        self.keep = set(ruleset.signals())
        for name in keep:
            self.keep.add(name)
        self.lets = [let.name for let in ruleset.lets]
        self.day.thresholds = thresholds(ruleset)
        self.dims = _dimensions(ruleset)
        self.spans = [[] for _ in ruleset.rules]
        self.state = [(INACTIVE, 0)] * len(ruleset.rules)
        # The shortest staleness limit of each signal the rules read.
        self.limits = {}
        for limits in engine.limits:
            for name, limit in limits:
                if name not in self.limits or limit < self.limits[name]:
                    self.limits[name] = limit
        self.stale_since = {}
        self.names = [r.name for r in ruleset.rules]
        self.titles = [r.title for r in ruleset.rules]
        # Each question of the rules to a forecast that chooses slots (cheapest):
        # when it said yes is drawn as a lane of its own.
        self.choices = []
        for item in ruleset.rules + ruleset.lets:
            for node in item.exprs():
                _choices(node, self.choices)

    def _add(self, name, t, value):
        day = self.day
        if type(value) is bool:
            times, values = day.flags.setdefault(name, ([], []))
        elif value is None or is_number(value):
            if value is not None and value - value != 0:
                value = None
            times, values = day.series.setdefault(name, ([], []))
            if name not in day.units:
                day.units[name] = self.dims.get(name) or guess_unit(name)
        else:
            return
        if values and values[-1] == value and type(values[-1]) is type(value):
            return  # a step line only needs the points where the value changes
        times.append(t)
        values.append(value)

    def sample(self, t, samples):
        """A row of samples [(signal, value)] taken at ``t``."""
        keep = self.keep
        for name, value in samples:
            if name in keep:
                self._add(name, t, value)

    def tick(self, t):
        """After an engine tick at ``t``: derived values, rule states, staleness."""
        engine = self.engine
        values = engine.signals.values
        for name in self.lets:
            self._add(name, t, values.get(name))
        for name in engine.signals.forecasts:
            if name in self.keep:  # the price of the slot of now, as a step line
                self._add(name, t, values.get(name))
        ev = engine.evaluator
        for label, node in self.choices:
            try:
                chosen = ev.value(node)
            except EvalError:
                chosen = None
            self._add(label, t, chosen is True)
        for i, st in enumerate(engine.states):
            state, since = self.state[i]
            if st.state != state:
                if state != INACTIVE:
                    self.spans[i].append((since, t, STATE_NAMES[state]))
                self.state[i] = (st.state, t)
        times = engine.signals.times
        for name in self.limits:
            at = times.get(name)
            stale = at is None or t >= at + self.limits[name]
            began = self.stale_since.get(name)
            if stale and began is None:
                self.stale_since[name] = at + self.limits[name] if at is not None else t
            elif not stale and began is not None:
                self.day.stale.append((name, began, at))
                del self.stale_since[name]

    def change(self, change):
        """A target change."""
        self.day.changes.append((change.t, change.target, change.value, change.rule))

    def finish(self, end):
        """The recorded Day, up to ``end``."""
        day = self.day
        day.end = end
        for i, name in enumerate(self.names):
            state, since = self.state[i]
            spans = list(self.spans[i])
            if state != INACTIVE:
                spans.append((since, None, STATE_NAMES[state]))
            day.rules.append((name, self.titles[i], spans))
        for name in self.stale_since:
            if self.stale_since[name] < end:
                day.stale.append((name, self.stale_since[name], end))
        self.stale_since = {}
        return day
