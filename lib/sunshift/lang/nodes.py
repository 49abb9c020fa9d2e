"""Expression nodes: small tuples with an integer opcode first.

Tuples are the most compact objects MicroPython has, and a parsed rule is kept
for the life of the engine, so nodes carry nothing but what evaluation and
explanation need:

    (NUM, value, dimension, unit)    a number as written: 1.4kW -> (NUM, 1400, POWER, "kW")
    (STR, text)                      "pv", or a bare word as a target's value
    (BOOL, value)                    true / false
    (SIG, name)                      a device signal: envoy.net_consumption
    (LET, name)                      a derived value defined with `let`
    (NEG, a)  (NOT, a)
    (ADD|SUB|MUL|DIV, a, b)
    (CMP, op, a, b, dimension)       op is "<", "<=", ">", ">=", "==", "!="
    (AND|OR, a, b, eval_both)        eval_both: b holds a `for` timer, so never skip it
    (FOR, a, seconds, slot)          a has been true for `seconds`; slot = its timer
    (WINDOW, fn, name, seconds)      avg/min/max of a signal or let over a window
    (AGE, name)                      seconds since the name's last sample
    (CALL, fn, args)                 abs, min, max, round of values
    (AHEAD, fn, name, span, amount, dimension)
                                     a question to a forecast (forecast.py):
                                     avg/min/max/energy over a span, or cheapest /
                                     cheapest_block of `amount` seconds in it; span
                                     is ("next", s, 0), ("before", clock, 0) or
                                     ("between", clock, clock); dimension is the
                                     forecast's (filled in by lang/quantities)
"""

from .. import units
from ..port import const

# Leaves come first, those that carry their value before those that name it:
# the evaluator tells them apart with `op <= BOOL` and `op <= LET`.
NUM = const(1)
STR = const(2)
BOOL = const(3)
SIG = const(4)
LET = const(5)
NEG = const(6)
NOT = const(7)
ADD = const(8)
SUB = const(9)
MUL = const(10)
DIV = const(11)
CMP = const(12)
AND = const(13)
OR = const(14)
FOR = const(15)
WINDOW = const(16)
AGE = const(17)
CALL = const(18)
AHEAD = const(19)

# Binding strength, weakest first; `not` binds its operand at CMP strength, so
# `not a > 1 for 2m` reads as `(not (a > 1)) for 2m`.
PREC_OR = const(1)
PREC_AND = const(2)
PREC_NOT = const(3)
PREC_FOR = const(4)
PREC_CMP = const(5)
PREC_ADD = const(6)
PREC_MUL = const(7)
PREC_NEG = const(8)
PREC_ATOM = const(9)

ARITH_SYMBOLS = {ADD: "+", SUB: "-", MUL: "*", DIV: "/"}
NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


def precedence(node):
    """How strongly a node binds, for putting parentheses back when printing it."""
    op = node[0]
    if op == OR:
        return PREC_OR
    if op == AND:
        return PREC_AND
    if op == NOT:
        return PREC_NOT
    if op == FOR:
        return PREC_FOR
    if op == CMP:
        return PREC_CMP
    if op == ADD or op == SUB:
        return PREC_ADD
    if op == MUL or op == DIV:
        return PREC_MUL
    if op == NEG:
        return PREC_NEG
    if op == NUM and node[1] < 0:
        return PREC_NEG
    return PREC_ATOM


def literal_text(value, dimension, unit):
    """A number the way a rule writes it: 1400 of kW -> '1.4kW'."""
    if dimension == units.TIME and unit not in ("s", "m", "min", "h"):
        return units.format_duration(value)
    if unit:
        factor = units.UNITS[unit][0]
        if factor < 0:  # ct/kWh: the value is in /kWh
            return units.format_number(value * -factor, 3) + unit
        return units.format_number(value / factor if factor != 1 else value, 3) + unit
    return units.format_number(value, 3)


def _wrap(node, min_prec):
    text = unparse(node)
    if precedence(node) < min_prec:
        return "(" + text + ")"
    return text


def unparse(node):
    """Rule text for a node, with only the parentheses it needs."""
    op = node[0]
    if op == NUM:
        return literal_text(node[1], node[2], node[3])
    if op == STR:
        return '"' + node[1] + '"'
    if op == BOOL:
        return "true" if node[1] else "false"
    if op == SIG or op == LET:
        return node[1]
    if op == NEG:
        return "-" + _wrap(node[1], PREC_NEG)
    if op == NOT:
        return "not " + _wrap(node[1], PREC_CMP)
    if op in ARITH_SYMBOLS:
        p = precedence(node)
        # Left-associative: the right side needs parentheses at equal strength.
        return _wrap(node[1], p) + " " + ARITH_SYMBOLS[op] + " " + _wrap(node[2], p + 1)
    if op == CMP:
        return _wrap(node[2], PREC_ADD) + " " + node[1] + " " + _wrap(node[3], PREC_ADD)
    if op == AND:
        return _wrap(node[1], PREC_AND) + " and " + _wrap(node[2], PREC_AND + 1)
    if op == OR:
        return _wrap(node[1], PREC_OR) + " or " + _wrap(node[2], PREC_OR + 1)
    if op == FOR:
        return _wrap(node[1], PREC_NOT) + " for " + units.format_duration(node[2])
    if op == WINDOW:
        return "%s(%s, %s)" % (node[1], node[2], units.format_duration(node[3]))
    if op == AGE:
        return "age(%s)" % node[1]
    if op == CALL:
        return "%s(%s)" % (node[1], ", ".join(unparse(a) for a in node[2]))
    if op == AHEAD:
        amount = "" if node[4] is None else units.format_duration(node[4]) + ", "
        return "%s(%s, %s%s)" % (node[1], node[2], amount, span_text(node[3]))
    return "?"


def span_text(span):
    """A forecast's span as a rule writes it: 'next 3h', 'before 07:00', '22:00-07:00'."""
    kind, a, b = span
    if kind == "next":
        return "next " + units.format_duration(a)
    if kind == "before":
        return "before " + (units.format_clock(a) if a else "24:00")
    return units.format_clock(a) + "-" + units.format_clock(b)


def children(node):
    """The sub-expressions of a node."""
    op = node[0]
    if op == NEG or op == NOT or op == FOR:
        return (node[1],)
    if op in ARITH_SYMBOLS or op == AND or op == OR:
        return (node[1], node[2])
    if op == CMP:
        return (node[2], node[3])
    if op == CALL:
        return node[2]
    return ()


def names(node, out, skip_age=False):
    """Add to the list ``out`` every signal and let name the node reads.

    With ``skip_age`` a name read only by ``age()`` is left out: asking how old a
    value is must keep working when the value is stale.
    """
    op = node[0]
    if op == SIG or op == LET or op == WINDOW or op == AHEAD or (op == AGE and not skip_age):
        name = node[2] if op == WINDOW or op == AHEAD else node[1]
        if name not in out:
            out.append(name)
        return out
    for child in children(node):
        names(child, out, skip_age)
    return out


def has_timer(node):
    """True if the node or one below it is a `for` timer."""
    if node[0] == FOR:
        return True
    for child in children(node):
        if has_timer(child):
            return True
    return False
