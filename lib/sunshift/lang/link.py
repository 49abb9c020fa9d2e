"""Linking a rule set: names across files, the order lets are computed in,
which rule wins a target (arbitration), and the warnings about it."""

from ..errors import Problem
from ..text import close_to
from . import nodes
from .model import RuleSet
from .syntax import FUNCTIONS, MAX_DEPTH


def _by_name(items, problems):
    """{name: item} of lets or rules, and a problem for each name defined twice."""
    found = {}
    for item in items:
        first = found.get(item.name)
        if first is None:
            found[item.name] = item
        else:
            problems.append(Problem(item.path, item.line, item.col, "%s '%s' is already defined at %s" % (item.kind, item.name, first.location())))
    return found


def link(lets, rules, refs, problems):
    """The RuleSet of parsed lets, rules and name references, and the problems found (errors leave it empty)."""
    rs = RuleSet()
    by_let = _by_name(lets, problems)
    _by_name(rules, problems)
    for path, (name, line, col, actions, index) in refs:
        if name in by_let:
            if actions is not None:
                problems.append(Problem(path, line, col, "'%s' is a let here; write \"%s\" in quotes if you mean the text" % (name, name), True))
            continue
        if actions is not None:
            actions[index] = (actions[index][0], (nodes.STR, name))
            continue
        guess = close_to(name, list(by_let))
        if guess:
            hint = "; did you mean '%s'?" % guess
        elif name in FUNCTIONS:
            hint = "; %s is a function: %s(...)" % (name, name)
        else:
            hint = " (device signals have dots, like envoy.production; put text in quotes)"
        problems.append(Problem(path, line, col, "unknown name '%s'%s" % (name, hint)))
    if any(not p.warning for p in problems):
        return rs, problems
    order = _let_order(lets, by_let, problems)
    if order is None:
        return rs, problems
    rs.lets = order
    inputs = {}
    for let in order:
        let.inputs = tuple(_expand(nodes.names(let.expr, [], True), inputs))
        inputs[let.name] = let.inputs
    rs.rules = rules
    for i, r in enumerate(rules):
        if i:
            r.order = i
        read = []
        for node in r.exprs():
            nodes.names(node, read, True)
        if read:
            r.inputs = tuple(_expand(read, inputs))
        r.then = tuple(r.then)
        r.otherwise = tuple(r.otherwise)
    for item in lets + rules:
        for node in item.exprs():
            _collect_windows(node, rs.windows)
    _arbitration(rs, problems)
    return rs, problems


def _expand(names, let_inputs):
    out = []
    for name in names:
        for raw in let_inputs.get(name, (name,)):
            if raw not in out:
                out.append(raw)
    return out


def _let_order(lets, by_let, problems):
    order = []
    state = {}  # name -> 1 visiting, 2 done

    def visit(let, chain):
        mark = state.get(let.name)
        if mark == 2:
            return True
        if mark == 1:
            loop = chain[chain.index(let.name) :] + [let.name]
            problems.append(Problem(let.path, let.line, let.col, "let '%s' depends on itself: %s" % (let.name, " -> ".join(loop))))
            return False
        if len(chain) > MAX_DEPTH:
            problems.append(Problem(let.path, let.line, let.col, "lets refer to each other more than %d deep" % MAX_DEPTH))
            return False
        state[let.name] = 1
        for name in nodes.names(let.expr, []):
            dep = by_let.get(name)
            if dep is not None and not visit(dep, chain + [let.name]):
                return False
        state[let.name] = 2
        order.append(let)
        return True

    for let in lets:
        if not visit(let, []):
            return None
    return order


def _collect_windows(node, windows):
    if node[0] == nodes.WINDOW:
        if node[3] > windows.get(node[2], 0):
            windows[node[2]] = node[3]
    for child in nodes.children(node):
        _collect_windows(child, windows)


def _arbitration(rs, problems):
    writers = rs.writers
    for r in rs.rules:
        for branch, index in ((r.then, 1), (r.otherwise, 2)):
            for target, node in branch:
                if target not in writers:
                    writers[target] = []
                    rs.targets.append(target)
                entry = None
                for e in writers[target]:
                    if e[0] is r:
                        entry = e
                if entry is None:
                    entry = [r, None, None]
                    writers[target].append(entry)
                entry[index] = node
    for target in rs.targets:
        entries = writers[target]
        # Strongest first: higher priority, then the rule that comes first.
        entries.sort(key=lambda e: (-e[0].priority, e[0].order))
        writers[target] = tuple(tuple(e) for e in entries)
        rs.hold[target] = max(e[0].hold for e in entries)
        for i in range(1, len(entries)):
            a, b = entries[i - 1][0], entries[i][0]
            if a.priority == b.priority:
                rs.warnings.append(
                    Problem(
                        b.path,
                        b.line,
                        b.col,
                        "rules '%s' (%s) and '%s' both set %s at priority %d; when both apply, '%s' wins because it comes first; give one a higher priority"
                        % (a.name, a.location(), b.name, target, a.priority, a.name),
                        True,
                    )
                )
        if all(e[2] is None for e in entries):
            r = entries[0][0]
            rs.warnings.append(
                Problem(r.path, r.line, r.col, "no rule sets %s back with 'else': it keeps its last value when '%s' turns off" % (target, r.name), True)
            )
