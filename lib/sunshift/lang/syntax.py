"""The syntax of the rule language: one file's text to its lets and rules, with clear errors.

A file holds `let` definitions and `rule` blocks.  Inside a rule, each clause
starts with its keyword at the beginning of a line (indentation is free); any
other line continues the clause above it.  See docs/rules.md for the language.

The parser is a Pratt (precedence-climbing) parser: two Python frames per level
of parentheses, so its recursion stays far below MicroPython's limit, and every
expression is capped at MAX_DEPTH levels so evaluation is bounded too.
Names are linked across files afterwards (link), and files are read by ruleset.

It is one module of about 600 lines because it is one parser: its statement and
expression halves share the token cursor, the error recovery (a bad clause is
reported and parsing goes on at the next one) and the per-file state.
"""

from .. import units
from ..errors import Problem
from ..port import const
from ..text import close_to, utf8_error
from . import lexer, nodes
from .lexer import BAD, CLOCK, END, NAME, NUMBER, OP, STRING
from .model import Let, Rule

# Nesting allowed in one expression (parentheses, operators, functions).  The
# evaluator recurses once per level; 32 levels leave room on an ESP32's stack.
MAX_DEPTH = const(32)
CLAUSES = ("when", "until", "then", "else", "hold", "during", "priority", "stale")
STATEMENTS = ("let", "rule")
OPERATOR_WORDS = ("and", "or", "not", "for")
KEYWORDS = CLAUSES + STATEMENTS + OPERATOR_WORDS + ("true", "false", "after")
FUNCTIONS = ("abs", "age", "avg", "cheapest", "cheapest_block", "energy", "max", "min", "percentile", "round")
# The functions that look ahead in a forecast (forecast.py), and how a span is written.
FORECAST_ONLY = ("cheapest", "cheapest_block", "energy", "percentile")
SPAN_EXAMPLE = "next 3h, before 07:00 or 22:00-07:00"
CLAUSE_LIST = "when, until, then, else, hold, during, priority, stale after"

_COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
_BINARY = {
    "or": (nodes.PREC_OR, nodes.OR),
    "and": (nodes.PREC_AND, nodes.AND),
    "+": (nodes.PREC_ADD, nodes.ADD),
    "-": (nodes.PREC_ADD, nodes.SUB),
    "*": (nodes.PREC_MUL, nodes.MUL),
    "/": (nodes.PREC_MUL, nodes.DIV),
}


class _Stop(Exception):
    """Abandon the current clause: its error is recorded, parsing goes on at the next one."""


def _describe(tok):
    kind, value = tok[0], tok[1]
    if kind == END:
        return "the end of the file"
    if kind == NAME or kind == OP:
        return "'%s'" % value
    if kind == NUMBER:
        return "the number %s" % nodes.literal_text(value[0], value[1], value[2])
    if kind == STRING:
        return 'the text "%s"' % value
    if kind == CLOCK:
        return "the time %s" % units.format_clock(value)
    return "something unreadable"


def _plain(node):
    """A number written without a unit."""
    return node[0] == nodes.NUM and node[2] == units.NONE


def _is_duration(node):
    return node[0] == nodes.NUM and node[2] == units.TIME


class _FileParser:
    def __init__(self, src, path, places=None):
        self.src = src
        self.path = path
        self.places = places
        self.tokens, lex_errors = lexer.tokenize(src)
        self.pos = 0
        self.problems = []
        self.bad_lines = []
        for pos, line, message in lex_errors:
            self.problems.append(Problem(path, line, lexer.column(src, pos), message))
            self.bad_lines.append(line)
        self.lets = []
        self.rules = []
        self.refs = []  # (name, line, col, actions list or None, index)
        self.slots = 0
        self.value_start = None  # where an action's value starts, while it is read
        self.failed_at = 0
        self.strings = {}

    # --- helpers -----------------------------------------------------------

    def problem(self, pos, line, message, warning=False):
        if line in self.bad_lines:
            return  # this line already has a reading error; more would be noise
        self.problems.append(Problem(self.path, line, lexer.column(self.src, pos), message, warning))

    def fail(self, tok, message):
        self.problem(tok[2], tok[3], message)
        # Remember where the bad token is, so recovery resumes right there when
        # it is a keyword that starts the next clause.
        self.failed_at = self.pos - 1 if self.pos and self.tokens[self.pos - 1] is tok else self.pos
        raise _Stop()

    def fail_got(self, tok, message):
        """Fail at ``tok`` with ``message`` and what the token is instead."""
        self.fail(tok, "%s, got %s" % (message, _describe(tok)))

    def recover(self, start, stop):
        """After an error: go on from the failing token (at least one past ``start``)
        to the next token where ``stop`` holds."""
        self.pos = max(self.failed_at, start + 1)
        self.skip_to(stop)

    def at(self, node, tok):
        """``node``, noted as written at ``tok`` for the checks after linking (lang/quantities.py)."""
        if self.places is not None:
            self.places[id(node)] = (node, self.path, tok[3], lexer.column(self.src, tok[2]))
        return node

    def intern(self, text):
        # One string object per distinct name: the rules of a site repeat them often.
        return self.strings.setdefault(text, text)

    def peek(self, ahead=0):
        i = self.pos + ahead
        if i >= len(self.tokens):
            return self.tokens[-1]
        return self.tokens[i]

    def next(self):
        tok = self.peek()
        if tok[0] != END:
            self.pos += 1
        return tok

    def is_word(self, tok, word):
        return tok[0] == NAME and tok[1] == word

    def is_op(self, tok, op):
        return tok[0] == OP and tok[1] == op

    def starts_clause(self, tok):
        """A clause or statement keyword at the start of a line, or the end."""
        if tok[0] == END:
            return True
        return tok[4] and tok[0] == NAME and (tok[1] in CLAUSES or tok[1] in STATEMENTS)

    def misplaced_keyword(self, tok):
        if tok[0] == NAME and not tok[4] and tok[1] in CLAUSES + STATEMENTS:
            self.fail(tok, "start '%s' on a new line" % tok[1])

    def starts_statement(self, tok):
        return tok[0] == END or (tok[4] and tok[0] == NAME and tok[1] in STATEMENTS)

    def skip_to(self, stop):
        while not stop(self.peek()):
            self.pos += 1

    def expect_op(self, op, what):
        tok = self.next()
        if not self.is_op(tok, op):
            self.fail_got(tok, "expected '%s' %s" % (op, what))
        return tok

    def duration(self, what):
        tok = self.next()
        if tok[0] == NUMBER and tok[1][1] == units.NONE:
            n = nodes.literal_text(tok[1][0], units.NONE, "")
            self.fail(tok, "%s needs a unit after %s: write %sm for minutes, %ss or %sh" % (what, n, n, n, n))
        if tok[0] != NUMBER or tok[1][1] != units.TIME:
            self.fail_got(tok, "%s needs a duration like 30s, 5m or 1h" % what)
        return tok[1][0]

    # --- statements --------------------------------------------------------

    def parse(self):
        while True:
            tok = self.peek()
            if tok[0] == END:
                return
            start = self.pos
            try:
                if not tok[4]:
                    self.fail(tok, "expected a new line before %s" % _describe(tok))
                if self.is_word(tok, "rule"):
                    self.next()
                    self.rule()
                elif self.is_word(tok, "let"):
                    self.next()
                    self.let()
                elif tok[0] == NAME and tok[1] in CLAUSES:
                    self.fail(tok, "'%s' belongs inside a rule: start one with 'rule NAME'" % tok[1])
                else:
                    guess = close_to(tok[1], STATEMENTS) if tok[0] == NAME else None
                    if guess:
                        self.fail(tok, "unknown keyword '%s'; did you mean '%s'?" % (tok[1], guess))
                    self.fail_got(tok, "expected 'rule' or 'let'")
            except _Stop:
                self.recover(start, self.starts_statement)

    def new_name(self, what):
        tok = self.next()
        if tok[4]:  # nothing after `rule` or `let` on its line
            self.fail(self.tokens[self.pos - 2], "a %s needs a name, like '%s'" % (what, "rule ev_surplus" if what == "rule" else "let surplus = ..."))
        if what == "rule" and tok[0] == STRING:
            self.fail(tok, "a rule needs a name before its title, like 'rule ev_surplus \"%s\"'" % tok[1])
        if tok[0] != NAME:
            self.fail_got(tok, "expected the %s's name" % what)
        if "." in tok[1]:
            self.fail(tok, "a %s's name has no dots (dotted names are device signals)" % what)
        if tok[1] in KEYWORDS or tok[1] in FUNCTIONS:
            self.fail(tok, "'%s' is a keyword; choose another %s name" % (tok[1], what))
        return tok

    def let(self):
        name_tok = self.new_name("let")
        if self.is_op(self.peek(), "=="):
            self.fail(self.peek(), "a let is defined with '=' ('==' compares)")
        eq = self.expect_op("=", "after the let's name")
        self.slots = 0
        expr = self.condition_or_value(True, "a value", eq)
        self.lets.append(Let(self.intern(name_tok[1]), expr, self.path, name_tok[3], lexer.column(self.src, name_tok[2]), self.slots))
        if not self.starts_clause(self.peek()):
            self.fail(self.peek(), "unexpected %s after the let's value" % _describe(self.peek()))

    def rule(self):
        name_tok = self.new_name("rule")
        r = Rule(self.intern(name_tok[1]), self.path, name_tok[3], lexer.column(self.src, name_tok[2]))
        if self.peek()[0] == STRING:
            r.title = self.next()[1]
        nxt = self.peek()
        if not nxt[4] and ((nxt[0] == NAME and nxt[1] not in KEYWORDS) or (self.is_op(nxt, "-") and self.peek(1)[0] == NAME)):
            words = [name_tok[1]]
            while not self.peek()[4] and (self.peek()[0] == NAME or self.is_op(self.peek(), "-")):
                word = self.next()[1]
                if word != "-":
                    words.append(word)
            self.fail(nxt, "a rule's name is one word: write '%s'" % "_".join(words))
        self.slots = 0
        seen = []
        before = len(self.problems)
        while not self.starts_statement(self.peek()):
            tok = self.peek()
            start = self.pos
            if not self.starts_clause(tok):
                guess = close_to(tok[1], CLAUSES + STATEMENTS) if tok[0] == NAME and tok[4] else None
                if guess in STATEMENTS:
                    # A misspelt `rule` or `let`: end this rule rather than read
                    # the next one's clauses as this one's.
                    self.problem(tok[2], tok[3], "unknown keyword '%s'; did you mean '%s'?" % (tok[1], guess))
                    self.pos += 1
                    self.skip_to(self.starts_statement)
                    break
            try:
                if not self.starts_clause(tok):
                    self.misplaced_keyword(tok)
                    if guess:
                        self.fail(tok, "unknown clause '%s'; did you mean '%s'?" % (tok[1], guess))
                    if tok[0] == NAME and "." in tok[1] and self.is_op(self.peek(1), "="):
                        self.fail(tok, "did you forget 'then' (or 'else')? '%s = ...' sets a target" % tok[1])
                    if self.is_word(tok, "if"):
                        self.fail(tok, "a rule's condition starts with 'when', not 'if'")
                    self.fail_got(tok, "expected a clause (%s)" % CLAUSE_LIST)
                self.next()
                word = tok[1]
                if word in seen and word not in ("then", "else"):
                    self.fail(tok, "rule '%s' already has a '%s' clause%s" % (r.name, word, " (join conditions with 'and')" if word == "when" else ""))
                seen.append(word)
                self.clause(r, word, tok)
            except _Stop:
                self.recover(start, self.starts_clause)
        if self.slots:
            r.timers = self.slots
        end_line = self.peek()[3]
        unreadable = False
        for line in self.bad_lines:
            unreadable = unreadable or r.line <= line <= end_line
        if len(self.problems) == before and not unreadable:
            if r.when is None:
                self.problem(name_tok[2], name_tok[3], "rule '%s' has no 'when' clause" % r.name)
            elif not r.then:
                self.problem(name_tok[2], name_tok[3], "rule '%s' has no 'then' clause" % r.name)
        self.rules.append(r)

    def clause(self, r, word, tok):
        if word == "when":
            r.when = self.condition_or_value(True, "a condition", tok)
            self.check_condition(r.when, tok)
        elif word == "until":
            first_slot = self.slots
            r.until = self.condition_or_value(True, "a condition", tok)
            self.check_condition(r.until, tok)
            r.until_first = first_slot
        elif word == "then":
            self.actions(r, r.then, "then")
        elif word == "else":
            self.actions(r, r.otherwise, "else")
        elif word == "hold":
            hold = self.duration("hold")
            if hold:
                r.hold = hold
        elif word == "during":
            r.during = self.windows()
        elif word == "priority":
            priority = self.priority()
            if priority:
                r.priority = priority
        elif word == "stale":
            after = self.next()
            if not self.is_word(after, "after"):
                self.fail(after, "write 'stale after' and a duration, like 'stale after 90s'")
            r.stale_after = self.duration("stale after")
            if r.stale_after <= 0:
                self.fail(after, "'stale after' needs a duration above zero")
        tok = self.peek()
        if not tok[4]:  # a new line is the rule loop's business; leftovers on this one are errors
            self.misplaced_keyword(tok)
            if word in ("when", "until"):
                self.leftover_in_condition(tok)
            self.fail(tok, "unexpected %s after '%s'" % (_describe(tok), word))

    def leftover_in_condition(self, tok):
        if self.is_op(tok, ","):
            before, after = self.src[tok[2] - 1 : tok[2]], self.src[tok[2] + 1 : tok[2] + 2]
            nxt = self.peek(1)
            if before.isdigit() and after.isdigit() and nxt[0] == NUMBER:
                # `1,4kW`: a decimal comma.  Both halves as written, with the unit.
                prev = self.tokens[self.pos - 1]
                end = tok[2] + 1
                while end < len(self.src) and self.src[end : end + 1].isdigit():
                    end += 1
                text = "%s.%s%s" % (self.src[prev[2] : tok[2]].decode(), self.src[tok[2] + 1 : end].decode(), nxt[1][2])
                self.fail(prev, "write %s with a '.', not ','" % text)
            self.fail(tok, "join conditions with 'and' or 'or', not ','")
        if tok[0] == NAME and tok[1].lower() in ("and", "or"):
            self.fail(tok, "write '%s' in small letters" % tok[1].lower())
        if self.is_word(tok, "is"):
            negated = self.is_word(self.peek(1), "not")
            self.fail(tok, "compare with '%s', not '%s'" % ("!=" if negated else "==", "is not" if negated else "is"))
        self.fail_got(tok, "expected 'and', 'or' or a new clause after the condition")

    def check_condition(self, node, tok):
        op = node[0]
        if op == nodes.NUM or op == nodes.STR:
            self.fail(tok, "'%s' needs a condition that is true or false, like 'x > 5', not %s" % (tok[1], nodes.unparse(node)))

    def priority(self):
        sign = 1
        if self.is_op(self.peek(), "-"):
            self.next()
            sign = -1
        tok = self.next()
        if tok[0] != NUMBER or tok[1][1] != units.NONE or type(tok[1][0]) is not int:
            self.fail_got(tok, "priority needs a whole number like 10")
        return sign * tok[1][0]

    def clock(self):
        tok = self.next()
        if tok[0] == NUMBER:
            text = self.src[tok[2] : tok[2] + 5]
            if len(text) == 5 and text[2:3] == b"." and text[:2].isdigit() and text[3:].isdigit():
                self.fail(tok, "write %s:%s with ':', not '.'" % (text[:2].decode(), text[3:].decode()))
        if tok[0] != CLOCK:
            self.fail_got(tok, "during needs times of day like 07:00-21:00")
        return tok

    def windows(self):
        spans = []
        while True:
            start = self.clock()
            self.expect_op("-", "between the two times")
            end = self.clock()
            if start[1] == end[1] or (start[1] == 0 and end[1] == 86400):
                self.fail(
                    start,
                    "%s-%s is %s; leave 'during' out for all day"
                    % (units.format_clock(start[1]), units.format_clock(end[1]), "empty" if start[1] == end[1] else "all day"),
                )
            spans.append((start[1], end[1]))
            if not self.is_op(self.peek(), ","):
                return tuple(spans)
            self.next()

    def actions(self, r, out, branch):
        while True:
            tok = self.next()
            if tok[0] != NAME or tok[1] in KEYWORDS:
                self.fail_got(tok, "expected a target like evcc.loadpoints.1.mode after '%s'" % branch)
            if "." not in tok[1]:
                self.fail(tok, "a target is a device setting with dots, like evcc.loadpoints.1.mode, not '%s'" % tok[1])
            target = self.intern(tok[1])
            eq = self.next()
            if self.is_op(eq, "=="):
                self.fail(eq, "use '=' to set a target ('==' compares)")
            if not self.is_op(eq, "="):
                self.fail_got(eq, "expected '=' after the target %s" % target)
            for other, _ in out:
                if other == target:
                    hint = "; did you forget 'else'?" if tok[4] and branch == "then" else ""
                    self.fail(tok, "'%s' is set twice in this '%s'%s" % (target, branch, hint))
            refs_before = len(self.refs)
            first = self.peek()
            self.value_start = self.pos
            try:
                value = self.condition_or_value(False, "a value", eq)
            finally:
                self.value_start = None
            if self.places is not None:
                # Where the target and its value are written, for the checks after linking.
                if r.places is None:
                    r.places = {}
                r.places[("then" if branch == "then" else "otherwise", target)] = (tok[3], lexer.column(self.src, tok[2]), lexer.column(self.src, first[2]))
            if value[0] == nodes.LET and len(self.refs) == refs_before + 1:
                # A lone bare word: text (`mode = pv`) unless a let has that name.
                ref = self.refs[-1]
                self.refs[-1] = (ref[0], ref[1], ref[2], out, len(out))
            out.append((target, value))
            nxt = self.peek()
            if self.is_op(nxt, ","):
                self.next()
                continue
            if self.starts_clause(nxt):
                return
            if nxt[4] and nxt[0] == NAME and "." in nxt[1]:
                continue  # the next line sets another target
            if nxt[4]:
                return  # a misspelt clause keyword: the rule reports it
            self.fail_got(nxt, "expected ',' or a new line between actions")

    # --- expressions -------------------------------------------------------

    def condition_or_value(self, allow_for, what, after):
        tok = self.peek()
        if self.starts_clause(tok) and not (tok[0] == NAME and tok[1] in OPERATOR_WORDS):
            self.fail(after, "'%s' needs %s" % (after[1], what))
        self.allow_for = allow_for
        self.nest = 0
        self.parens = []
        self.fors = [False]  # per parenthesis level: has a `for` been seen?
        return self.expr(0)[0]

    def ends_here(self, tok):
        return self.starts_clause(tok) or self.is_op(tok, ")") or self.is_op(tok, ",")

    def expr(self, min_prec):
        """Parse operators binding at least ``min_prec``: (node, dimension, depth)."""
        self.nest += 1
        if self.nest > MAX_DEPTH:
            self.fail(self.peek(), "expression is nested too deeply (more than %d levels)" % MAX_DEPTH)
        left, ldim, ldepth = self.prefix()
        while True:
            tok = self.peek()
            if self.starts_clause(tok):
                break
            word = tok[1] if tok[0] in (NAME, OP) else None
            if word == "for":
                if min_prec > nodes.PREC_FOR:
                    break
                if not self.allow_for:
                    self.fail(tok, "'for' belongs in a condition (when, until, let), not in a value")
                if min_prec > 0 and not self.fors[-1]:
                    # A `for` that ends the condition (or a parenthesis) applies to
                    # all of it: `when a and b for 5m` means `(a and b) for 5m` --
                    # unless an earlier `for` shows each part has its own.
                    after = self.peek(2)
                    if self.peek(1)[0] == NUMBER and self.ends_here(after):
                        break
                self.next()
                seconds = self.duration("for")
                if seconds <= 0:
                    self.fail(tok, "'for' needs a duration above zero")
                left = self.at((nodes.FOR, left, seconds, self.slots), tok)
                self.slots += 1
                self.fors[-1] = True
                ldim = None
                ldepth += 1
            elif word in _COMPARISONS:
                if min_prec > nodes.PREC_CMP:
                    break
                self.next()
                right, rdim, rdepth = self.expr(nodes.PREC_CMP + 1)
                if (left[0] == nodes.STR or right[0] == nodes.STR) and word not in ("==", "!="):
                    self.fail(tok, "texts can only be compared with == and !=")
                if ldim and rdim and ldim != rdim:
                    self.fail(tok, "cannot compare %s with %s" % (units.DIMENSION_NAMES[ldim], units.DIMENSION_NAMES[rdim]))
                left = self.at((nodes.CMP, word, left, right, ldim or rdim or units.NONE), tok)
                ldim = None
                ldepth = max(ldepth, rdepth) + 1
                nxt = self.peek()
                if nxt[0] == OP and nxt[1] in _COMPARISONS:
                    self.fail(nxt, "comparisons do not chain; write 'a < b and b < c'")
            elif word in _BINARY and (tok[0] == OP or word in ("and", "or")):
                prec, op = _BINARY[word]
                if prec < min_prec:
                    break
                self.next()
                right, rdim, rdepth = self.expr(prec + 1)
                if op == nodes.AND or op == nodes.OR:
                    left = (op, left, right, nodes.has_timer(right))
                    ldim = None
                else:
                    left, ldim = self.arithmetic(op, left, right, ldim, rdim, tok)
                self.at(left, tok)
                ldepth = max(ldepth, rdepth) + 1
            elif word == "=" and tok[0] == OP:
                if not self.allow_for and self.value_start is not None:
                    # `then a = pv and b = 60`: the second action read as part of the first's value.
                    for k in range(self.value_start, self.pos):
                        if self.is_word(self.tokens[k], "and"):
                            self.fail(self.tokens[k], "separate actions with ',' or a new line, not 'and'")
                self.fail(tok, "use '==' to compare ('=' sets a target in then/else)")
            else:
                break
            if ldepth > MAX_DEPTH:
                self.fail(tok, "expression is nested too deeply (more than %d levels)" % MAX_DEPTH)
        self.nest -= 1
        return left, ldim, ldepth

    def arithmetic(self, op, left, right, ldim, rdim, tok):
        for side in (left, right):
            if side[0] in (nodes.STR, nodes.BOOL):
                self.fail(tok, "cannot do arithmetic with %s" % nodes.unparse(side))
        if op == nodes.ADD or op == nodes.SUB:
            if ldim and rdim and ldim != rdim:
                self.fail(tok, "cannot %s %s and %s" % ("add" if op == nodes.ADD else "subtract", units.DIMENSION_NAMES[ldim], units.DIMENSION_NAMES[rdim]))
            dim = ldim or rdim
        elif op == nodes.MUL:
            if ldim and rdim:
                pair = (ldim, rdim)
                dim = units.POWER if pair in ((units.CURRENT, units.VOLTAGE), (units.VOLTAGE, units.CURRENT)) else None
            elif _plain(left) or _plain(right):
                dim = ldim or rdim  # 2 * 1kW is a power; a signal * 1kW could be anything
            else:
                dim = None
        elif ldim and rdim:
            dim = units.CURRENT if (ldim, rdim) == (units.POWER, units.VOLTAGE) else None
        else:
            dim = ldim if _plain(right) else None
        if left[0] == nodes.NUM and right[0] == nodes.NUM and op != nodes.DIV:
            # Fold constants so `-1kW + 200W` costs nothing at run time.
            a, b = left[1], right[1]
            value = a + b if op == nodes.ADD else (a - b if op == nodes.SUB else a * b)
            return (nodes.NUM, value, dim or units.NONE, ""), dim
        return (op, left, right), dim

    def prefix(self):
        tok = self.next()
        kind, value = tok[0], tok[1]
        if self.parens and self.starts_clause(tok):
            self.pos -= 1  # resume at the clause keyword
            self.fail(self.parens[-1], "this '(' is never closed")
        if kind == NUMBER:
            return self.at((nodes.NUM, value[0], value[1], self.intern(value[2])), tok), (value[1] or None), 1
        if kind == BAD:
            return (nodes.NUM, 0, units.NONE, ""), None, 1
        if kind == STRING:
            return self.at((nodes.STR, self.intern(value)), tok), None, 1
        if kind == CLOCK:
            self.fail(tok, "a time of day like %s only goes in 'during'" % units.format_clock(value))
        if kind == OP:
            if value == "-":
                operand, dim, depth = self.expr(nodes.PREC_NEG)
                if operand[0] == nodes.NUM:
                    return (nodes.NUM, -operand[1], operand[2], operand[3]), dim, depth
                if operand[0] in (nodes.STR, nodes.BOOL):
                    self.fail(tok, "cannot negate %s" % nodes.unparse(operand))
                return self.at((nodes.NEG, operand), tok), dim, depth + 1
            if value == "(":
                self.parens.append(tok)
                self.fors.append(False)
                inner = self.expr(0)
                if self.starts_clause(self.peek()):
                    self.fail(tok, "this '(' is never closed")
                self.expect_op(")", "to close the '(' at line %d" % tok[3])
                self.parens.pop()
                self.fors.pop()
                return inner
        if kind != NAME:
            self.fail_got(tok, "expected a value")
        if value == "true" or value == "false":
            return self.at((nodes.BOOL, value == "true"), tok), None, 1
        if value == "not":
            operand, _, depth = self.expr(nodes.PREC_CMP)
            return self.at((nodes.NOT, operand), tok), None, depth + 1
        if value in KEYWORDS:
            self.fail(tok, "expected a value, got the keyword '%s'" % value)
        if self.is_op(self.peek(), "("):
            return self.call(tok)
        if "." in value:
            return self.at((nodes.SIG, self.intern(value)), tok), None, 1
        self.refs.append((self.intern(value), tok[3], lexer.column(self.src, tok[2]), None, 0))
        return self.at((nodes.LET, self.intern(value)), tok), None, 1

    def call(self, tok):
        fn = tok[1]
        if fn not in FUNCTIONS:
            guess = close_to(fn, FUNCTIONS)
            hint = ("; did you mean '%s'?" % guess) if guess else " (functions: %s)" % ", ".join(FUNCTIONS)
            self.fail(tok, "unknown function '%s'%s" % (fn, hint))
        self.next()  # (
        args = []
        depth = 1
        allow_for = self.allow_for
        self.allow_for = False
        if not self.is_op(self.peek(), ")"):
            while True:
                span = self.span(fn) if args else None
                if span is not None:
                    args.append((span, "span"))
                    if not self.is_op(self.peek(), ","):
                        break
                    self.fail(self.next(), "the span (%s) is the last thing %s takes" % (nodes.span_text(span[1]), fn))
                node, dim, d = self.expr(0)
                args.append((node, dim))
                depth = max(depth, d + 1)
                if not self.is_op(self.peek(), ","):
                    break
                self.next()
        self.expect_op(")", "to close %s(" % fn)
        self.allow_for = allow_for
        n = len(args)
        first = args[0][0] if n else None
        named = first is not None and first[0] in (nodes.SIG, nodes.LET)
        if (n and args[-1][1] == "span") or fn in FORECAST_ONLY:
            dim = units.ENERGY if fn == "energy" else units.PERCENT if fn == "percentile" else None
            return self.ahead(tok, fn, args, first), dim, 2
        if fn in ("avg", "min", "max") and n == 2 and named and _is_duration(args[1][0]):
            if args[1][0][1] <= 0:
                self.fail(tok, "%s needs a window above zero" % fn)
            return self.at((nodes.WINDOW, fn, first[1], args[1][0][1]), tok), None, 2
        if fn == "avg":
            self.fail(tok, "avg takes a signal or let and a window, like avg(surplus, 1m)")
        if fn == "age":
            if n != 1 or not named:
                self.fail(tok, "age takes one signal or let, like age(envoy.production)")
            return self.at((nodes.AGE, first[1]), tok), units.TIME, 2
        if fn in ("min", "max"):
            if n < 2:
                self.fail(tok, "%s takes a signal and a window, like %s(surplus, 5m), or two or more values" % (fn, fn))
            dim = None
            for _, d in args:
                dim = dim or d
            return self.at((nodes.CALL, fn, tuple(a for a, _ in args)), tok), dim, depth
        if fn == "abs" and n != 1:
            self.fail(tok, "abs takes one value")
        if fn == "round":
            if n == 2 and (args[1][0][0] != nodes.NUM or type(args[1][0][1]) is not int or args[1][0][1] < 0):
                self.fail(tok, "round's second value is a number of decimals, like round(x, 1)")
            if n not in (1, 2):
                self.fail(tok, "round takes a value and, if you like, a number of decimals")
        return self.at((nodes.CALL, fn, tuple(a for a, _ in args)), tok), args[0][1], depth

    def span(self, fn):
        """A forecast's span as a function's last argument ("next 3h", "before
        07:00", "22:00-07:00"), as ("span", (kind, a, b)), or None if the next
        tokens are not one."""
        tok = self.peek()
        if tok[0] == CLOCK:
            start = self.next()
            self.expect_op("-", "between the two times of the span")
            end = self.clock()
            if start[1] % 86400 == end[1] % 86400:
                self.fail(start, "%s-%s is no window; a span is %s" % (units.format_clock(start[1]), units.format_clock(end[1]), SPAN_EXAMPLE))
            return ("span", ("between", start[1] % 86400, end[1] % 86400))
        if tok[0] != NAME or tok[1] not in ("next", "before"):
            return None
        word = self.next()[1]
        amount = self.next()
        if word == "next":
            if amount[0] != NUMBER or amount[1][1] != units.TIME or amount[1][0] <= 0:
                self.fail_got(amount, "'next' needs a duration above zero, like next 3h")
            return ("span", ("next", amount[1][0], 0))
        if amount[0] != CLOCK:
            self.fail_got(amount, "'before' needs a time of day, like before 07:00")
        return ("span", ("before", amount[1] % 86400, 0))

    def ahead(self, tok, fn, args, first):
        """The AHEAD node of a function over a forecast: avg, min, max or energy
        (forecast, span); cheapest or cheapest_block (forecast, duration, span)."""
        if fn not in FORECAST_ONLY and fn not in ("avg", "min", "max"):
            self.fail(tok, "%s takes no span; the functions that look ahead in a forecast are avg, min, max, %s" % (fn, ", ".join(FORECAST_ONLY)))
        counted = fn in ("cheapest", "cheapest_block")
        example = "evcc.tariff.solar" if fn == "energy" else "evcc.tariff.grid"
        usage = "%s(evcc.tariff.grid, 3h, before 07:00)" % fn if counted else "%s(%s, next 3h)" % (fn, example)
        if not args or args[-1][1] != "span" or len(args) != (3 if counted else 2):
            self.fail(tok, "%s takes a forecast%s and a span (%s), like %s" % (fn, ", a duration" if counted else "", SPAN_EXAMPLE, usage))
        if first[0] != nodes.SIG:
            self.fail(tok, "%s looks ahead in a device's forecast, like %s; %s is not one" % (fn, usage, nodes.unparse(first)))
        amount = None
        if counted:
            amount = args[1][0]
            if not _is_duration(amount) or amount[1] <= 0:
                self.fail(tok, "%s needs how long, a duration above zero like 3h, after the forecast" % fn)
            amount = amount[1]
            span = args[2][0][1]
            if span[0] == "next" and amount > span[1]:
                self.fail(tok, "%s of %s cannot fit in the next %s" % (fn, units.format_duration(amount), units.format_duration(span[1])))
        return self.at((nodes.AHEAD, fn, first[1], args[-1][0][1], amount, None), tok)


def parse(src, path="<rules>", places=None):
    """Parse one file's text (str or UTF-8 bytes): (lets, rules, refs, problems).

    Most callers want ruleset.load or ruleset.compile_sources, which also link
    names across files and raise RuleError.  ``places``, a dict, gets where each
    node is written: {id(node): (node, path, line, col)}.
    """
    if isinstance(src, str):
        src = src.encode("utf-8")
    bad = utf8_error(src)
    if bad is not None:
        line = src.count(b"\n", 0, bad) + 1
        return [], [], [], [Problem(path, line, lexer.column(src, bad), "this is not UTF-8 text (byte 0x%02x); save the file as UTF-8" % src[bad])]
    p = _FileParser(src, path, places)
    p.parse()
    p.problems.sort(key=lambda q: (q.line, q.col))
    return p.lets, p.rules, [(path, ref) for ref in p.refs], p.problems
