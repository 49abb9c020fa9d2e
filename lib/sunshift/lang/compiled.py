"""Rules compiled on the host, loaded on a board without the lexer and the parser.

Parsing a rule set takes far more memory than the rules hold once parsed (a
whole file's tokens at once), so a board does not parse: tools/deploy.py
checks the rule files on the PC and writes them here as a compiled file, one
JSON value per line, which a board reads a line at a time:

    {"sunshift": "compiled rules", "format": 1, "files": [[name, bytes, crc32], ...], ...}
    ["let", name, expr, timers, inputs]
    ["rule", name, when, until, then, else, hold, during, priority, stale_after,
     timers, until_first, inputs]
    ["writers", target, [[rule, then index, else index], ...]]

Expressions are the nodes of nodes.py with tuples written as lists.  ``files``
names the rule files it was compiled from, so a board can tell when the text
in its rules folder is not what it runs (copied by hand).  What only the host
uses is left out: where each rule is written and its title.  :func:`load`
says what is wrong with a file that cannot be read, as a RuleError naming the
line.  Loading keeps each text and each node once: equal ones are shared.
"""

from .. import port
from ..errors import Problem, RuleError
from .model import Let, Rule, RuleSet, plain

FORMAT = 1
HEAD = "compiled rules"
# The longest line a board reads: far above any rule (a few hundred bytes),
# far below what would exhaust a board's heap.
MAX_LINE = 8192


def _node(value, kept):
    """JSON lists back to node tuples; each text and each node kept once
    (``kept`` has those already made), so equal ones share their memory."""
    if isinstance(value, list):
        value = tuple(_node(item, kept) for item in value)
    elif not isinstance(value, str):
        return value
    return kept.setdefault(value, value)


def fingerprint(paths):
    """[[file name, size, crc32]] of rule files, sorted by name: what a compiled set was made from."""
    out = []
    for path in paths:
        out.append([path.rsplit("/", 1)[-1], port.file_size(path), port.file_crc(path)])
    return sorted(out)


def dump(rs, files):
    """The compiled text of the RuleSet ``rs``, made from the rule files ``files``."""
    head = {
        "sunshift": HEAD,
        "format": FORMAT,
        "files": fingerprint(files),
        "lets": len(rs.lets),
        "rules": len(rs.rules),
        "targets": rs.targets,
        "hold": [[target, rs.hold[target]] for target in rs.targets],
        "windows": [[name, rs.windows[name]] for name in sorted(rs.windows)],
    }
    lines = [port.json_dumps(head)]
    for let in rs.lets:
        lines.append(port.json_dumps(["let", let.name, plain(let.expr), let.timers, list(let.inputs)]))
    for r in rs.rules:
        lines.append(port.json_dumps(["rule", r.name] + r.fields()))
    for target in rs.targets:
        entries = []
        for rule, then_node, else_node in rs.writers[target]:
            entries.append([rule.order, _index(rule.then, then_node), _index(rule.otherwise, else_node)])
        lines.append(port.json_dumps(["writers", target, entries]))
    return "\n".join(lines) + "\n"


def _index(actions, node):
    """Where ``node`` stands among a rule's actions ([(target, node)]), -1 for None."""
    for k, pair in enumerate(actions):
        if pair[1] is node:
            return k
    return -1


class _Lines:
    """The lines of a compiled file, one at a time, each at most MAX_LINE bytes."""

    def __init__(self, path):
        self.path = path
        self.file = open(path, "rb")
        self.number = 0

    def next(self):
        """The next line's JSON value, or None at the end."""
        # In short pieces: a board's readline(n) sets aside n bytes first.
        parts = []
        size = 0
        while size <= MAX_LINE:
            piece = self.file.readline(256)
            if not piece:
                break
            parts.append(piece)
            size += len(piece)
            if piece[-1:] == b"\n":
                break
        if not parts:
            return None
        raw = parts[0] if len(parts) == 1 else b"".join(parts)
        parts = None
        self.number += 1
        if len(raw) > MAX_LINE:
            raise self.error("a line longer than %d bytes; compile the rules again" % MAX_LINE)
        try:
            return port.json_loads(raw)
        except ValueError:
            raise self.error("not a line of compiled rules (broken JSON); compile the rules again with tools/deploy.py --rules-only")

    def error(self, message):
        return RuleError([Problem(self.path, max(self.number, 1), 1, message)])

    def close(self):
        self.file.close()


def load(path):
    """The RuleSet of the compiled file at ``path``; RuleError saying what is wrong."""
    try:
        lines = _Lines(path)
    except OSError:
        raise RuleError([Problem(path, 1, 1, "no compiled rules here: deploy them with python3 tools/deploy.py --rules-only")])
    try:
        return _read(lines)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        raise lines.error("not what compiled rules hold; compile the rules again with tools/deploy.py --rules-only")
    finally:
        lines.close()


def _read(lines):
    head = lines.next()
    if not isinstance(head, dict) or head.get("sunshift") != HEAD:
        raise lines.error("not a file of compiled rules")
    if head.get("format") != FORMAT:
        found = head.get("format")
        raise lines.error("compiled rules of format %r; this sunshift reads format %d: compile them again with its tools/deploy.py" % (found, FORMAT))
    strings = {}
    rs = RuleSet()
    rs.files = [entry[0] for entry in head["files"]]
    rs.made_from = head["files"]
    rs.targets = [_node(t, strings) for t in head["targets"]]
    for target, seconds in head["hold"]:
        rs.hold[_node(target, strings)] = seconds
    for name, seconds in head["windows"]:
        rs.windows[_node(name, strings)] = seconds
    while True:
        # Collected line by line: what a line leaves behind is reused at once,
        # so the rules' objects sit together at the bottom of the heap and
        # the rest stays in one piece for the polls (MicroPython cannot move
        # objects; scattered small ones leave no room for a larger one).
        port.collect()
        line = lines.next()
        if line is None:
            break
        kind = line[0]
        if kind == "let":
            let = Let(_node(line[1], strings), _node(line[2], strings), timers=line[3])
            let.inputs = _node(line[4], strings)
            rs.lets.append(let)
        elif kind == "rule":
            rs.rules.append(_rule(line, strings, len(rs.rules)))
        elif kind == "writers":
            entries = []
            for order, then_index, else_index in line[2]:
                r = rs.rules[order]
                entries.append((r, None if then_index < 0 else r.then[then_index][1], None if else_index < 0 else r.otherwise[else_index][1]))
            rs.writers[_node(line[1], strings)] = tuple(entries)
        else:
            raise lines.error("an unknown line %r" % kind)
    if len(rs.lets) != head["lets"] or len(rs.rules) != head["rules"] or len(rs.writers) != len(rs.targets):
        raise lines.error("the file ends before all its rules (copied only in part?); deploy the rules again")
    return rs


def _rule(line, strings, order):
    r = Rule(_node(line[1], strings))
    when, until, then, otherwise, hold, during, priority, stale_after, timers, until_first, inputs = line[2:13]
    # Only what differs from the class's defaults becomes an attribute (see Rule).
    r.when = _node(when, strings)
    if until is not None:
        r.until = _node(until, strings)
    r.then = tuple((_node(t, strings), _node(n, strings)) for t, n in then)
    r.otherwise = tuple((_node(t, strings), _node(n, strings)) for t, n in otherwise)
    if hold:
        r.hold = hold
    if during is not None:
        r.during = tuple(tuple(span) for span in during)
    if priority:
        r.priority = priority
    if stale_after is not None:
        r.stale_after = stale_after
    if timers:
        r.timers = timers
    if until_first:
        r.until_first = until_first
    if inputs:
        r.inputs = _node(inputs, strings)
    if order:
        r.order = order
    return r


def stale_texts(rs, folder):
    """Why the rule files in ``folder`` are not those ``rs`` was compiled from
    (edited or copied by hand), or None when they are (or the folder is gone)."""
    if not port.is_dir(folder):
        return None
    names = [name for name in port.list_dir(folder) if name.endswith(".rules")]
    now = fingerprint([port.join(folder, name) for name in names])
    if now == sorted(rs.made_from):
        return None
    old = [entry[0] for entry in rs.made_from]
    changed = [entry[0] for entry in now if entry not in rs.made_from]
    gone = [name for name in old if name not in names]
    parts = []
    if changed:
        parts.append("changed or new: " + ", ".join(changed))
    if gone:
        parts.append("gone: " + ", ".join(gone))
    return "; ".join(parts)
