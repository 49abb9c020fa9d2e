"""What each value in a rule set is, checked against what the devices offer.

After linking, ``check`` walks every let and rule with a catalog of the site's
devices (site/catalog.py) and reports, at the place in the file:

* a signal or target no device offers, with "did you mean" (a warning for a
  name under a device's open pattern, such as an EMS-ESP entity);
* quantities of different kinds compared, added or subtracted (a temperature
  with a power), a number where true/false belongs and the reverse;
* a value a target would refuse (the real write's own check), or of the wrong
  unit for it.

It also fills in what the parser could not know: a comparison of a signal
with a plain number takes the signal's unit (``curtemp < 55`` reads
"49.1 °C < 55 °C" in reasons), and a value for a target the device takes in
another unit than the base one (evcc's kWh) is divided into it.

A kind here is None (unknown: the device gives what it gives), "bool",
"text", or a dimension of units.py (units.NONE: a plain number).
"""

from .. import units
from ..errors import Problem
from . import nodes

_ARITH = (nodes.ADD, nodes.SUB, nodes.MUL, nodes.DIV)


def _words(kind):
    if kind == "bool":
        return "true or false"
    if kind == "text":
        return "a text"
    if kind == units.NONE:
        return "a plain number"
    return units.DIMENSION_NAMES[kind]


def _number(kind):
    return kind is not None and kind != "bool" and kind != "text"


class _Checker:
    def __init__(self, catalog, places, problems):
        self.catalog = catalog
        self.places = places
        self.problems = problems
        self.lets = {}  # let name -> kind
        self.signals = {}  # signal name -> kind (each reported once)
        self.item = None  # the let or rule being checked, where a node has no place

    def report(self, node, message, warning=False):
        place = self.places.get(id(node))
        if place is not None and place[0] is node:
            path, line, col = place[1], place[2], place[3]
        else:
            path, line, col = self.item.path, self.item.line, self.item.col
        for p in self.problems:
            if p.path == path and p.line == line and p.col == col and p.message == message:
                return
        self.problems.append(Problem(path, line, col, message, warning))

    def name_kind(self, name, node):
        """The kind of the signal or let ``name`` (reported once when unknown)."""
        if "." not in name:
            return self.lets.get(name)
        if name not in self.signals:
            unit, problem, warning = self.catalog.signal(name)
            if problem:
                self.report(node, problem, warning)
            self.signals[name] = None if unit is None else unit_kind(unit)
        return self.signals[name]

    # --- expressions -----------------------------------------------------------

    def walk(self, node):
        """(node, kind): the node with units filled in, and what its value is."""
        op = node[0]
        if op == nodes.NUM:
            return node, node[2]
        if op == nodes.STR:
            return node, "text"
        if op == nodes.BOOL:
            return node, "bool"
        if op == nodes.SIG or op == nodes.LET:
            return node, self.name_kind(node[1], node)
        if op == nodes.WINDOW:
            return node, self.name_kind(node[2], node)
        if op == nodes.AGE:
            self.name_kind(node[1], node)
            return node, units.TIME
        if op == nodes.AHEAD:
            return self.ahead(node)
        if op == nodes.NEG:
            inner, kind = self.walk(node[1])
            self.need_number(inner, kind, node, "negate")
            return _same(node, (nodes.NEG, inner)), kind
        if op == nodes.NOT:
            inner, kind = self.walk(node[1])
            self.need_truth(inner, kind)
            return _same(node, (nodes.NOT, inner)), "bool"
        if op == nodes.FOR:
            inner, kind = self.walk(node[1])
            self.need_truth(inner, kind)
            return _same(node, (nodes.FOR, inner, node[2], node[3])), "bool"
        if op == nodes.AND or op == nodes.OR:
            a, ka = self.walk(node[1])
            b, kb = self.walk(node[2])
            self.need_truth(a, ka)
            self.need_truth(b, kb)
            return _same(node, (op, a, b, node[3])), "bool"
        if op == nodes.CMP:
            return self.compare(node)
        if op in _ARITH:
            return self.arithmetic(node)
        if op == nodes.CALL:
            return self.call(node)
        return node, None

    def ahead(self, node):
        """A function over a forecast: the name must be one, `energy` sums a power;
        the node takes the forecast's kind, for its reasons."""
        fn, name = node[1], node[2]
        kind = self.name_kind(name, node)
        if self.catalog.is_forecast(name) is False:
            self.report(node, "%s is not a forecast; %s looks ahead in one, like %s" % (name, fn, self.catalog.forecast_example(name)))
        elif fn == "energy" and kind is not None and kind != units.POWER:
            self.report(node, "energy sums a forecast of power, like evcc.tariff.solar; %s is %s" % (name, _words(kind)))
        elif kind == "bool" or kind == "text":
            self.report(node, "%s needs a forecast of numbers; %s is %s" % (fn, name, _words(kind)))
        dim = kind if _number(kind) else None
        new = _same(node, node[:5] + (dim,))
        if fn == "cheapest" or fn == "cheapest_block":
            return new, "bool"
        if fn == "percentile":
            return new, units.PERCENT
        return new, (units.ENERGY if fn == "energy" else kind)

    def need_truth(self, node, kind):
        if kind is not None and kind != "bool":
            self.report(node, "%s is %s, not true or false; compare it, like %s > 0" % (nodes.unparse(node), _words(kind), nodes.unparse(node)))

    def need_number(self, node, kind, where, doing):
        if kind == "bool" or kind == "text":
            self.report(where, "cannot %s %s: it is %s" % (doing, nodes.unparse(node), _words(kind)))

    def compare(self, node):
        op = node[1]
        a, ka = self.walk(node[2])
        b, kb = self.walk(node[3])
        if ka is None or kb is None:
            return _same(node, (nodes.CMP, op, a, b, node[4])), "bool"
        if ka == "bool" or kb == "bool" or ka == "text" or kb == "text":
            if ka != kb:
                self.report(node, "cannot compare %s (%s) with %s (%s)" % (_words(ka), nodes.unparse(a), _words(kb), nodes.unparse(b)))
            elif ka == "bool" and op not in ("==", "!="):
                self.report(node, "true and false are compared only with == and !=")
            return node, "bool"
        dim = self.same_dimension(node, a, ka, b, kb, "compare", "with")
        return _same(node, (nodes.CMP, op, a, b, dim or node[4])), "bool"

    def same_dimension(self, node, a, ka, b, kb, verb, joint):
        """The dimension two numbers share (a plain number takes the other's), or
        0 after reporting that they differ."""
        if ka and kb and ka != kb:
            self.report(node, "cannot %s %s (%s) %s %s (%s)" % (verb, _words(ka), nodes.unparse(a), joint, _words(kb), nodes.unparse(b)))
            return units.NONE
        return ka or kb

    def arithmetic(self, node):
        op = node[0]
        a, ka = self.walk(node[1])
        b, kb = self.walk(node[2])
        new = _same(node, (op, a, b))
        for side, kind in ((a, ka), (b, kb)):
            self.need_number(side, kind, node, "do arithmetic with")
            if kind == "bool" or kind == "text":
                return new, None
        if ka is None or kb is None:
            return new, None
        if op == nodes.ADD or op == nodes.SUB:
            return new, self.same_dimension(node, a, ka, b, kb, "add" if op == nodes.ADD else "subtract", "and")
        if op == nodes.MUL:
            if ka and kb:
                return new, units.POWER if (ka, kb) in ((units.CURRENT, units.VOLTAGE), (units.VOLTAGE, units.CURRENT)) else None
            return new, ka or kb
        if ka and kb:
            return new, (units.CURRENT if (ka, kb) == (units.POWER, units.VOLTAGE) else (units.NONE if ka == kb else None))
        return new, ka if not kb else None

    def call(self, node):
        args = []
        kinds = []
        for arg in node[2]:
            a, k = self.walk(arg)
            args.append(a)
            kinds.append(k)
            self.need_number(a, k, node, "take %s of" % node[1])
        new = _same(node, (nodes.CALL, node[1], tuple(args)))
        kind = kinds[0] if kinds else None
        if node[1] in ("min", "max"):
            for k, a in zip(kinds, args):
                if k is None:
                    return new, None
                if k and kind and k != kind:
                    self.report(
                        node,
                        "%s of %s (%s) and %s (%s): not the same kind of quantity"
                        % (node[1], _words(kind), nodes.unparse(args[0]), _words(k), nodes.unparse(a)),
                    )
                    return new, None
                kind = kind or k
        return new, kind

    # --- lets and rules ----------------------------------------------------------

    def let(self, let):
        self.item = let
        let.expr, kind = self.walk(let.expr)
        self.lets[let.name] = kind

    def rule(self, rule):
        self.item = rule
        for clause in ("when", "until"):
            node = getattr(rule, clause)
            if node is not None:
                node, kind = self.walk(node)
                setattr(rule, clause, node)
                if kind is not None and kind != "bool":
                    self.report(
                        node,
                        "'%s' needs a condition that is true or false; %s is %s (compare it, like %s > 0)"
                        % (clause, nodes.unparse(node), _words(kind), nodes.unparse(node)),
                    )
        for branch in ("then", "otherwise"):
            actions = getattr(rule, branch)
            out = []
            for target, value in actions:
                out.append((target, self.action(rule, branch, target, value)))
            setattr(rule, branch, type(actions)(out))

    def action(self, rule, branch, target, value):
        """The value node for ``target``, checked and in the unit the device takes."""
        value, kind = self.walk(value)
        places = getattr(rule, "places", None) or {}
        where = places.get((branch, target))
        if where is not None:
            self.places[id(value)] = (value, rule.path, where[0], where[2])
        cls, vkind, unit, problem, warning = self.catalog.target(target)
        if problem:
            if where is not None:
                self.problems.append(Problem(rule.path, where[0], where[1], problem, warning))
            else:
                self.report(value, problem, warning)
            return value
        if cls is None:
            return value
        want = unit_kind(unit)
        if want is not None and kind is not None:
            if _number(want) and _number(kind):
                if kind and want and kind != want:
                    self.report(value, "%s takes %s (%s), not %s (%s)" % (target, _words(want), unit, _words(kind), nodes.unparse(value)))
                    return value
                factor = units.UNITS[unit][0] if unit in units.UNITS else 1
                if kind and factor != 1:
                    # The value is in the base unit (Wh); the device takes kWh.
                    if value[0] == nodes.NUM:
                        amount = value[1] / factor
                        value = (nodes.NUM, int(amount) if amount == int(amount) else amount, units.NONE, "")
                    else:
                        value = (nodes.DIV, value, (nodes.NUM, factor, units.NONE, ""))
            elif want != kind:
                # A target of true/false or text, or a number, given the other.
                if value[0] not in (nodes.NUM, nodes.STR, nodes.BOOL):
                    self.report(
                        value, "%s takes %s, not %s (%s)" % (target, _words(want) if want != units.NONE else "a number", _words(kind), nodes.unparse(value))
                    )
                    return value
        if value[0] in (nodes.NUM, nodes.STR, nodes.BOOL):
            refused = self.catalog.refused(cls, target, vkind, value[1])
            if refused:
                self.report(value, "%s would refuse this: %s" % (cls.title, refused))
        return value


def unit_kind(unit):
    """What a value in ``unit`` (as SIGNALS and VALUES write it) is: a dimension,
    "bool", "text", or None ("any"); KeyError for a unit sunshift does not know."""
    if unit == "bool" or unit == "text":
        return unit
    if unit == "any" or unit is None:
        return None
    if unit == "":
        return units.NONE
    return units.UNITS[unit][1]


def _same(old, new):
    """``old`` when ``new`` holds the same parts (keeps its place), else ``new``."""
    if len(old) != len(new):
        return new
    for k in range(len(old)):
        a, b = old[k], new[k]
        if a is not b and (type(a) is tuple or type(b) is tuple or a != b):
            return new
    return old


def _value_of(actions, target):
    for name, value in actions:
        if name == target:
            return value
    return None


def check(rs, catalog, places):
    """Check the linked RuleSet ``rs`` against ``catalog`` (site/catalog.Catalog);
    ``places`` is the parser's {id(node): (node, path, line, col)}.  Fills in units
    as the module says and returns the problems (errors and warnings)."""
    problems = []
    checker = _Checker(catalog, places, problems)
    for let in rs.lets:
        checker.let(let)
    for rule in rs.rules:
        checker.rule(rule)
    # The arbitration's table holds the actions' values: the checked ones now.
    for target in rs.targets:
        entries = []
        for rule, then, otherwise in rs.writers[target]:
            entries.append(
                (rule, _value_of(rule.then, target) if then is not None else None, _value_of(rule.otherwise, target) if otherwise is not None else None)
            )
        rs.writers[target] = tuple(entries)
    return problems
