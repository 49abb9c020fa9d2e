"""The rules as the engine runs them: lets, rules and the linked rule set.

syntax.py makes them from text and link.py links them on the host; on a
board, compiled.py makes them from the compiled file a deploy copied, without
the lexer and the parser.
"""


def plain(value):
    """Node tuples as lists: the JSON form of an expression."""
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    return value


class _Defined:
    """A let or a rule: named, and defined at path:line:col.

    Rules compiled for a board leave their place out (a board never reports
    it): ``path`` is then "" and line and column 0, the class defaults, which
    cost no memory per rule."""

    path = ""
    line = 0
    col = 0

    def location(self):
        """'path:line' where it is defined."""
        return "%s:%d" % (self.path, self.line)


class Let(_Defined):
    """A derived value: ``let surplus = -envoy.net_consumption + ...``."""

    kind = "let"

    def __init__(self, name, expr, path=None, line=0, col=0, timers=0):
        self.name = name
        self.expr = expr
        if path is not None:
            self.path = path
            self.line = line
            self.col = col
        self.timers = timers
        self.inputs = ()  # device signals it reads, directly or through other lets

    def exprs(self):
        """Its expressions: the value."""
        return (self.expr,)


class Rule(_Defined):
    """One parsed rule.  Static: the engine keeps each rule's state apart.

    Clauses a rule leaves out keep the class-level default: on MicroPython
    every instance attribute costs a slot in the instance's dict, a default
    on the class costs nothing per rule.
    """

    kind = "rule"
    title = ""
    when = None
    until = None
    hold = 0
    during = None  # ((start, end), ...) in seconds after midnight
    priority = 0
    stale_after = None
    timers = 0  # number of `for` timers in its conditions
    until_first = 0  # the timers from this slot on belong to `until`
    inputs = ()  # device signals whose staleness sends it to its safe branch
    order = 0  # position in the rule set; breaks priority ties
    places = None  # {(branch, target): (line, col, value's col)} of a parsed rule's actions

    def __init__(self, name, path=None, line=0, col=0):
        self.name = name
        if path is not None:
            self.path = path
            self.line = line
            self.col = col
        self.then = []  # [(target, node)]; a tuple once linked
        self.otherwise = []  # the `else` actions

    def fields(self):
        """Its definition as plain data (lists, texts, numbers), without its name
        and place: what a compiled rule file holds, and what tells an edited
        rule from an unchanged one when rules are reloaded."""
        then = [[target, plain(node)] for target, node in self.then]
        otherwise = [[target, plain(node)] for target, node in self.otherwise]
        during = None if self.during is None else [list(span) for span in self.during]
        until = None if self.until is None else plain(self.until)
        return [plain(self.when), until, then, otherwise, self.hold, during, self.priority, self.stale_after, self.timers, self.until_first, list(self.inputs)]

    def exprs(self):
        """Its expressions: the conditions, then the values of `then` and `else`."""
        out = [self.when]
        if self.until is not None:
            out.append(self.until)
        for _, node in self.then + self.otherwise:
            out.append(node)
        return out


class RuleSet:
    """Everything loaded from a set of rule files, linked and checked."""

    def __init__(self):
        self.lets = []  # in evaluation order: each after the lets it reads
        self.rules = []
        self.targets = []  # every target name, in order of first appearance
        self.writers = {}  # target -> [(rule, then_node or None, else_node or None)], strongest first
        self.hold = {}  # target -> seconds
        self.windows = {}  # name -> longest window any avg/min/max asks of it
        self.warnings = []
        self.files = []
        self.made_from = []  # compiled: [[file name, size, crc32]] of the rule files

    def signals(self):
        """Every device signal the lets and rules read, sorted."""
        seen = []
        for item in self.lets + self.rules:
            for name in item.inputs:
                if name not in seen:
                    seen.append(name)
        return sorted(seen)
