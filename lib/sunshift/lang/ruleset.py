"""A rule set from files or texts: read, parse and link them, or say every error.

The engine never starts with half a rule set: one bad file fails the whole load.
"""

from .. import port
from ..errors import Problem, RuleError
from ..port import const
from . import quantities
from .link import link
from .syntax import parse

# The largest rule file accepted: far above any real rule set, far below what
# would exhaust a board's memory when read whole.
MAX_FILE_BYTES = const(64 * 1024)


def compile_sources(sources, catalog=None):
    """Parse and link ``[(path, text)]`` into a RuleSet, or raise RuleError listing every error.

    With a ``catalog`` of the site's devices (site/catalog.Catalog) the names,
    units and values are checked against what the devices offer (lang/quantities.py)."""
    lets, rules, refs, problems = [], [], [], []
    places = {} if catalog is not None else None
    for path, text in sources:
        file_lets, file_rules, file_refs, file_problems = parse(text, path, places)
        lets += file_lets
        rules += file_rules
        refs += file_refs
        problems += file_problems
    if any(not p.warning for p in problems):
        raise RuleError(problems)
    rs, problems = link(lets, rules, refs, problems)
    if any(not p.warning for p in problems):
        raise RuleError(problems)
    rs.files = [path for path, _ in sources]
    if catalog is not None:
        found = quantities.check(rs, catalog, places)
        # In the order of the files, then of the lines: the devices' problems among the others.
        order = {}
        for k, path in enumerate(rs.files):
            order[path] = k
        every = problems + found + rs.warnings
        every.sort(key=lambda p: (order.get(p.path, -1), p.line, p.col))
        if any(not p.warning for p in found):
            raise RuleError(every)
        rs.warnings = every
    else:
        rs.warnings = problems + rs.warnings
    return rs


def rule_files(paths):
    """Expand ``paths`` (files, or folders holding *.rules files) into ([file], [Problem]).

    Only regular files are taken, found with stat before anything is opened: a
    FIFO would block the reader for ever, a dangling symbolic link or a loop of
    them is a problem of its own.  Folders are not walked into, so a link to
    a folder above cannot make a loop."""
    files = []
    problems = []
    for path in paths:
        kind, size = port.path_kind(path)
        if kind == "dir":
            found = 0
            for name in port.list_dir(path):
                if name.endswith(".rules"):
                    found += 1
                    _take(port.join(path, name), files, problems)
            if not found:
                problems.append(Problem(path, 1, 1, "no .rules files in this folder"))
        elif kind is None and size == "missing":
            problems.append(Problem(path, 1, 1, "no such file or folder"))
        else:
            _take(path, files, problems)
    return files, problems


def _take(path, files, problems):
    # A rule file at ``path`` into files, or why not into problems.
    kind, size = port.path_kind(path)
    if kind == "file":
        files.append(path)
    else:
        words = port.kind_words(size if kind is None else kind)
        problems.append(Problem(path, 1, 1, words + ("; remove it, or point it at a rule file" if kind is None else "")))


def load(paths, catalog=None):
    """Read, parse and link the rule files at ``paths`` into a RuleSet, checked
    against ``catalog`` when given (see compile_sources).

    Raises RuleError listing every error (with the warnings) if any file is bad:
    the engine never starts with half a rule set.
    """
    files, problems = rule_files(paths)
    sources = []
    for path in files:
        kind, size = port.path_kind(path)
        if kind != "file":  # gone or replaced since it was listed
            problems.append(Problem(path, 1, 1, port.kind_words(size if kind is None else kind)))
            continue
        if size > MAX_FILE_BYTES:  # checked before it is opened: a huge file is never read
            problems.append(Problem(path, 1, 1, "the file is %d bytes; rule files are limited to %d (MAX_FILE_BYTES)" % (size, MAX_FILE_BYTES)))
            continue
        try:
            sources.append((path, port.read_bytes(path, size)))
        except OSError as e:
            problems.append(Problem(path, 1, 1, "cannot read the file (%s)" % e))
    try:
        rs = compile_sources(sources, catalog)
    except RuleError as e:
        raise RuleError(problems + e.problems)
    if problems:
        raise RuleError(problems + rs.warnings)
    return rs
