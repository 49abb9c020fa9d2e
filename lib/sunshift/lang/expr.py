"""Evaluating expression nodes, and explaining in words why they came out as they did.

Values are numbers, texts, booleans, or None for "unknown" (a signal never
seen).  Unknown spreads: ``unknown > 5`` is unknown, and a condition that is
unknown is not true.  A value of the wrong kind (a text where a number belongs)
raises EvalError naming the expression, so a rule can say why it stopped.
"""

from .. import units
from ..errors import EvalError
from ..units import is_number
from . import nodes
from .nodes import (
    ADD,
    AGE,
    AHEAD,
    AND,
    BOOL,
    CALL,
    CMP,
    FOR,
    LET,
    MUL,
    NEG,
    NOT,
    NUM,
    OR,
    SIG,
    STR,
    SUB,
    WINDOW,
)


def _need_number(node, value):
    # NaN and infinity come from devices' JSON now and then; they are not
    # measurements, and `v - v` is 0 for every number that is one.
    if not is_number(value) or value - value != 0:
        raise EvalError("%s is %s, not a number" % (nodes.unparse(node), units.format_value(value)))


def need_truth(node, value):
    """Raise EvalError unless ``value`` is True, False or None (unknown)."""
    if value is not None and type(value) is not bool:
        raise EvalError("%s is %s, not true or false" % (nodes.unparse(node), units.format_value(value)))


class Evaluator:
    """Evaluates nodes against a Signals store at time ``now``.

    ``timers`` is the list of `for` start times of whichever rule or let is
    being evaluated; the engine sets it before each one.

    The simulator evaluates every rule once a simulated second, so the common
    steps are written out in place (leaves read without a call, kind checks
    inline before the helpers that raise); the helpers say what is checked.
    """

    forecast = None  # the forecast module, once a rule has asked a forecast

    def __init__(self, signals):
        self.signals = signals
        self.values = signals.values  # the same dicts for the store's whole life
        self.series = signals.series
        self.now = 0
        self.tod = None  # the local time of day, for spans like `before 07:00`
        self.memos = {}  # id of a `cheapest` node -> its last choice (forecast.cheapest)
        self.timers = None

    def value(self, node):
        """The value of ``node`` now (may update `for` timers)."""
        op = node[0]
        if op <= LET:  # a leaf: NUM, STR, BOOL carry their value, SIG and LET name it
            return node[1] if op <= BOOL else self.values.get(node[1])
        return self.methods[op](self, node)

    def negation(self, node):
        a = self.value(node[1])
        if a is not True and a is not False and a is not None:
            need_truth(node[1], a)
        return None if a is None else not a

    def age(self, node):
        t = self.signals.times.get(node[1])
        return None if t is None else self.now - t

    def negative(self, node):
        x = node[1]
        a = x[1] if x[0] <= BOOL else self.values.get(x[1]) if x[0] <= LET else self.value(x)
        if a is None:
            return None
        if (type(a) is not int and type(a) is not float) or a - a != 0:
            _need_number(node[1], a)
        return -a

    def condition(self, node):
        """The value of a condition: True, False or None (unknown); anything else is an error."""
        op = node[0]
        if op == FOR:
            value = self.timer(node)
        elif op == CMP:
            value = self.compare(node)
        elif op == AND or op == OR:
            value = self.logic(node)
        else:
            value = self.value(node)
        if value is not True and value is not False and value is not None:
            need_truth(node, value)
        return value

    def arithmetic(self, node):
        op = node[0]
        x = node[1]
        a = x[1] if x[0] <= BOOL else self.values.get(x[1]) if x[0] <= LET else self.value(x)
        x = node[2]
        b = x[1] if x[0] <= BOOL else self.values.get(x[1]) if x[0] <= LET else self.value(x)
        if a is None or b is None:
            return None
        if (type(a) is not int and type(a) is not float) or a - a != 0:
            _need_number(node[1], a)
        if (type(b) is not int and type(b) is not float) or b - b != 0:
            _need_number(node[2], b)
        try:
            if op == ADD:
                return a + b
            if op == SUB:
                return a - b
            if op == MUL:
                return a * b
            if b == 0:
                raise EvalError("%s is zero, so %s cannot be divided by it" % (nodes.unparse(node[2]), nodes.unparse(node[1])))
            return a / b
        except OverflowError:
            raise EvalError("%s is too large to compute" % nodes.unparse(node))

    def window(self, node):
        """avg, min or max of a signal's history over the node's window."""
        history = self.series.get(node[2])
        if history is None:
            return None
        if node[1] == "avg":
            return history.average(self.now, node[3])
        return history.extreme(self.now, node[3], node[1] == "max")

    def compare(self, node):
        x = node[2]
        op = x[0]
        if op <= BOOL:
            a = x[1]
        elif op <= LET:
            a = self.values.get(x[1])
        elif op == WINDOW and x[1] == "avg":  # as window(), without the call
            history = self.series.get(x[2])
            a = None if history is None else history.average(self.now, x[3])
        else:
            a = self.value(x)
        x = node[3]
        b = x[1] if x[0] <= BOOL else self.values.get(x[1]) if x[0] <= LET else self.value(x)
        if a is None or b is None:
            return None
        op = node[1]
        if op == "==":
            return units.same_value(a, b)
        if op == "!=":
            return not units.same_value(a, b)
        if (type(a) is not int and type(a) is not float) or a - a != 0:
            _need_number(node[2], a)
        if (type(b) is not int and type(b) is not float) or b - b != 0:
            _need_number(node[3], b)
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b

    def logic(self, node):
        x = node[1]
        op = x[0]
        a = self.compare(x) if op == CMP else self.timer(x) if op == FOR else self.values.get(x[1]) if op == SIG else self.value(x)
        if a is not True and a is not False and a is not None:
            need_truth(node[1], a)
        is_and = node[0] == AND
        # Short-circuit unless the right side holds a `for` timer, which must
        # see every tick to know how long its condition has held.
        if not node[3] and a is (not is_and):
            return a
        x = node[2]
        op = x[0]
        b = self.compare(x) if op == CMP else self.timer(x) if op == FOR else self.values.get(x[1]) if op == SIG else self.value(x)
        if b is not True and b is not False and b is not None:
            need_truth(node[2], b)
        if is_and:
            if a is False or b is False:
                return False
            if a is None or b is None:
                return None
            return True
        if a is True or b is True:
            return True
        if a is None or b is None:
            return None
        return False

    def timer(self, node):
        x = node[1]
        inner = self.compare(x) if x[0] == CMP else self.value(x)
        slot = node[3]
        if inner is not True:
            if inner is not False and inner is not None:
                need_truth(node[1], inner)
            self.timers[slot] = None
            return inner
        since = self.timers[slot]
        if since is None:
            since = self.timers[slot] = self.now
        return self.now >= since + node[2]

    def call(self, node):
        fn = node[1]
        args = [self.value(a) for a in node[2]]
        for a, v in zip(node[2], args):
            if v is None:
                return None
            _need_number(a, v)
        if fn == "abs":
            return abs(args[0])
        if fn == "min":
            return min(args)
        if fn == "max":
            return max(args)
        if fn == "round":
            try:
                if len(args) == 1:
                    return round(args[0])
                return round(args[0], args[1])
            except OverflowError:
                raise EvalError("%s is too large to compute" % nodes.unparse(node))
        raise EvalError("unknown function %s" % fn)

    def ahead(self, node):
        """A question to a forecast (AHEAD): see forecast.py."""
        memos = self.memos.get(id(node))
        if memos is not None:
            found = self._remembered(memos, self.signals.forecasts.get(node[2]))
            if found is not None:
                return found[0]
        found = self._asked(node)
        if found is None:
            return None
        fn = node[1]
        if fn == "cheapest" or fn == "cheapest_block":
            return found[0]
        return found

    def _asked(self, node):
        """The answer to an AHEAD node: a number, or (chosen, figure) for cheapest
        and cheapest_block; None when unknown."""
        forecast = Evaluator.forecast
        if forecast is None:
            from .. import forecast  # here, once: a board whose rules ask no forecast never loads it

            Evaluator.forecast = forecast
        name = node[2]
        fc = self.signals.forecasts.get(name)
        if fc is None:
            if self.values.get(name) is not None:
                raise EvalError("%s is not a forecast; %s looks ahead in one, like evcc.tariff.grid" % (name, node[1]))
            return None
        fn = node[1]
        span = node[3]
        now = self.now
        tod = self.tod
        chooses = fn == "cheapest" or fn == "cheapest_block"
        if chooses:
            # Over a window of the day the answer holds while the forecast is the
            # same, now stays in its slot and on its side of the window's (and a
            # block's) edges, and the clock moves with the engine's (answer:
            # [answer, from, until, tod - now, forecast]).  A `next` span moves
            # with now: its answer is worked out every time.
            memos = self.memos.get(id(node))
            if memos is None:
                memos = self.memos[id(node)] = ([], [None, 0, 0, 0, None])
            answer = memos[1]
            found = self._remembered(memos, fc)
            if found is not None:
                return found
        where = forecast.span(span[0], span[1], span[2], now, tod, chooses)
        if where is None:
            return None
        a, b = where
        if fn == "avg":
            return forecast.mean(fc, a, b)
        if fn == "energy":
            return forecast.energy(fc, a, b)
        if fn == "min" or fn == "max":
            return forecast.extreme(fc, a, b, fn == "max")
        if fn == "percentile":
            return forecast.percentile(fc, a, b, now)
        if fn == "cheapest":
            found = forecast.cheapest(fc, node[4], a, b, now, memos[0])
        else:
            found = forecast.cheapest_block(fc, node[4], a, b, now)
        if found is not None and span[0] != "next":
            until = fc.ends[fc.index(now)]
            edge = a if now < a else b
            if edge < until:
                until = edge
            if fn == "cheapest_block":
                for moment in found[2:]:  # the run may begin or end inside a slot
                    if now < moment < until:
                        until = moment
            answer[:] = [found, now, until, (tod - now) % 86400, fc]
        return found

    def _remembered(self, memos, fc):
        """cheapest's answer of a tick before while it holds (see _asked), or None."""
        answer = memos[1]
        now = self.now
        if answer[0] is not None and answer[1] <= now < answer[2] and answer[4] is fc and self.tod is not None:
            drift = (self.tod - now) % 86400 - answer[3]
            if -1 < drift < 1:
                return answer[0]
        return None

    # --- reasons -----------------------------------------------------------

    def describe(self, node, dimension):
        """A value with what it is: '1.4 kW' for a literal, 'avg(surplus, 1m) 1.52 kW' else."""
        value = self.value(node)
        shown = units.format_value(value, dimension)
        op = node[0]
        if op == NUM or op == STR or op == BOOL:
            return shown
        text = nodes.unparse(node)
        if nodes.precedence(node) < nodes.PREC_ATOM:
            text = "(" + text + ")"
        return text + " " + shown

    def explain(self, node, truth):
        """Words for why ``node`` is ``truth`` now: 'avg(surplus, 1m) 1.52 kW > 1.4 kW for 2m'."""
        op = node[0]
        if truth is None:
            return nodes.unparse(node) + " is unknown"
        if op == CMP:
            sign = node[1] if truth else nodes.NEGATED[node[1]]
            return self.describe(node[2], node[4]) + " " + sign + " " + self.describe(node[3], node[4])
        if op == AND or op == OR:
            both = truth if op == AND else not truth
            if both:
                return self.explain(node[1], truth) + " and " + self.explain(node[2], truth)
            for side in (node[1], node[2]):
                if self.value(side) is truth:
                    return self.explain(side, truth)
            return nodes.unparse(node) + " is unknown"
        if op == NOT:
            return self.explain(node[1], not truth)
        if op == FOR:
            inner = self.value(node[1])
            need = units.format_duration(node[2])
            if truth:
                return self._held(node[1], " for " + need)
            if inner is True:
                since = self.timers[node[3]]
                held = units.format_duration(self.now - since)
                return self._held(node[1], " for only " + held + " of " + need)
            return self.explain(node[1], inner)
        if op == AHEAD and (node[1] == "cheapest" or node[1] == "cheapest_block"):
            return self._cheapest_words(node, truth)
        return nodes.unparse(node) + " is " + units.format_value(self.value(node))

    def _cheapest_words(self, node, truth):
        """'evcc.tariff.grid 0.12 €/kWh is among the cheapest 3h before 07:00 (cut-off 0.14 €/kWh)'."""
        found = self._asked(node)
        dim = node[5]
        name = node[2]
        price = units.format_value(self.values.get(name), dim)
        how = units.format_duration(node[4]) + " " + nodes.span_text(node[3])
        if node[1] == "cheapest":
            text = "%s %s is %samong the cheapest %s" % (name, price, "" if truth else "not ", how)
            if found is not None and found[1] is not None:
                text += " (cut-off %s)" % units.format_value(found[1], dim)
            elif found is not None and not truth:
                text += " (outside the window)"
            return text
        text = "%s %s is %sin the cheapest %s in one piece" % (name, price, "" if truth else "not ", how)
        if found is not None and found[1] is not None:
            text += " (average %s)" % units.format_value(found[1], dim)
        return text

    def _held(self, node, how_long):
        """Why ``node`` (true now) held ``how_long``: its reason now, unless that
        names one side of an `or` (which side held may have changed on the way:
        `a > 0 or b > 0 for 1m`); then the whole condition, with what holds now."""
        if _picks(node, True):
            return nodes.unparse(node) + how_long + " (now " + self.explain(node, True) + ")"
        return self.explain(node, True) + how_long


def _picks(node, truth):
    """True if explaining ``node`` as ``truth`` names only one side of an `or`
    (or of a false `and`) somewhere."""
    op = node[0]
    if op == AND or op == OR:
        return truth is (op == OR) or _picks(node[1], truth) or _picks(node[2], truth)
    if op == NOT:
        return _picks(node[1], not truth)
    return False


# The method for each opcode above the leaves (nodes numbers them from 1), on
# the class: one table for every evaluator.
Evaluator.methods = [Evaluator.arithmetic] * (AHEAD + 1)
Evaluator.methods[NEG] = Evaluator.negative
Evaluator.methods[NOT] = Evaluator.negation
Evaluator.methods[CMP] = Evaluator.compare
Evaluator.methods[AND] = Evaluator.methods[OR] = Evaluator.logic
Evaluator.methods[FOR] = Evaluator.timer
Evaluator.methods[WINDOW] = Evaluator.window
Evaluator.methods[AGE] = Evaluator.age
Evaluator.methods[CALL] = Evaluator.call
Evaluator.methods[AHEAD] = Evaluator.ahead


def method_for(node):
    """The Evaluator method that computes ``node``, to call as method(evaluator, node)
    (for a caller that evaluates the same node every tick)."""
    return Evaluator.value if node[0] <= LET else Evaluator.methods[node[0]]
