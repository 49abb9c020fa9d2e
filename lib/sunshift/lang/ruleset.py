"""A rule set from files or texts: read, parse and link them, or say every error.

The engine never starts with half a rule set: one bad file fails the whole load.
"""

from .. import port
from ..errors import Problem, RuleError
from ..port import const
from .link import link
from .syntax import parse

# The largest rule file accepted: far above any real rule set, far below what
# would exhaust a board's memory when read whole.
MAX_FILE_BYTES = const(64 * 1024)


def compile_sources(sources):
    """Parse and link ``[(path, text)]`` into a RuleSet, or raise RuleError listing every error."""
    lets, rules, refs, problems = [], [], [], []
    for path, text in sources:
        file_lets, file_rules, file_refs, file_problems = parse(text, path)
        lets += file_lets
        rules += file_rules
        refs += file_refs
        problems += file_problems
    if any(not p.warning for p in problems):
        raise RuleError(problems)
    rs, problems = link(lets, rules, refs, problems)
    if any(not p.warning for p in problems):
        raise RuleError(problems)
    rs.warnings = problems + rs.warnings
    rs.files = [path for path, _ in sources]
    return rs


def rule_files(paths):
    """Expand ``paths`` (files, or folders holding *.rules files) into ([file], [Problem])."""
    files = []
    problems = []
    for path in paths:
        if port.is_dir(path):
            found = [port.join(path, name) for name in port.list_dir(path) if name.endswith(".rules")]
            if not found:
                problems.append(Problem(path, 1, 1, "no .rules files in this folder"))
            files += found
        elif port.file_size(path) is None:
            problems.append(Problem(path, 1, 1, "no such file or folder"))
        else:
            files.append(path)
    return files, problems


def load(paths):
    """Read, parse and link the rule files at ``paths`` into a RuleSet.

    Raises RuleError listing every error (with the warnings) if any file is bad:
    the engine never starts with half a rule set.
    """
    files, problems = rule_files(paths)
    sources = []
    for path in files:
        size = port.file_size(path)
        if size > MAX_FILE_BYTES:
            problems.append(Problem(path, 1, 1, "the file is %d bytes; rule files are limited to %d (MAX_FILE_BYTES)" % (size, MAX_FILE_BYTES)))
            continue
        try:
            sources.append((path, port.read_bytes(path)))
        except OSError as e:
            problems.append(Problem(path, 1, 1, "cannot read the file (%s)" % e))
    try:
        rs = compile_sources(sources)
    except RuleError as e:
        raise RuleError(problems + e.problems)
    if problems:
        raise RuleError(problems + rs.warnings)
    return rs
