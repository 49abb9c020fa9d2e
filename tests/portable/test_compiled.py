"""Rules compiled on the host and loaded on a board (lang/compiled.py): the same
rules, the same decisions, and clear words for a file that cannot be read."""

from sunshift import port
from sunshift.errors import RuleError
from sunshift.host import runs, scenarios
from sunshift.host.sim import change_json
from sunshift.lang import compiled, ruleset
from support import ROOT, RULES, raises, scratch

BENCH = [RULES, ROOT + "/tools/bench_site/extra.rules"]


def roundtrip(paths, name):
    """(the RuleSet of the rule files, the RuleSet loaded from their compiled file)."""
    rs = ruleset.load(paths)
    files, _ = ruleset.rule_files(paths)
    path = scratch(name + ".compiled")
    port.write_atomic(path, compiled.dump(rs, files))
    return rs, compiled.load(path)


def decisions(rs, day="broken_clouds"):
    changes = []
    runs.Run(rs, on_change=changes.append).scenario(scenarios.Home(scenarios.get(day)), 30)
    return [change_json(c) for c in changes]


def test_the_loaded_rules_are_the_compiled_ones():
    rs, loaded = roundtrip(BENCH, "bench")
    assert [let.name for let in loaded.lets] == [let.name for let in rs.lets]
    for a, b in zip(rs.lets + rs.rules, loaded.lets + loaded.rules):
        assert a.name == b.name and (b.path, b.line, b.col) == ("", 0, 0)  # a board never says where a rule is written
        assert a.exprs() == b.exprs() and a.timers == b.timers and tuple(a.inputs) == tuple(b.inputs)
    for a, b in zip(rs.rules, loaded.rules):
        fields = ("hold", "during", "priority", "stale_after", "until_first", "order", "then", "otherwise")
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields], a.name
    assert loaded.targets == rs.targets and loaded.hold == rs.hold and loaded.windows == rs.windows
    for target in rs.targets:
        assert [(e[0].name, e[1], e[2]) for e in loaded.writers[target]] == [(e[0].name, e[1], e[2]) for e in rs.writers[target]]
        for rule, then_node, else_node in loaded.writers[target]:
            assert rule is loaded.rules[rule.order]
            # The writers share the rule's own nodes: loading builds each once.
            assert then_node is None or any(then_node is node for _, node in rule.then)
            assert else_node is None or any(else_node is node for _, node in rule.otherwise)
    assert loaded.signals() == rs.signals() and len(loaded.files) == 5


def test_the_loaded_rules_decide_as_the_parsed_ones():
    rs, loaded = roundtrip([RULES], "shipped")
    made = decisions(rs)
    assert made and decisions(loaded) == made


def test_the_price_rules_compiled_decide_as_the_parsed_ones():
    rs, loaded = roundtrip([RULES + "/prices"], "prices")
    assert [r.exprs() for r in loaded.rules] == [r.exprs() for r in rs.rules]
    made = decisions(rs, "winter_prices")
    assert len(made) > 5 and decisions(loaded, "winter_prices") == made


def test_names_and_nodes_are_kept_once():
    _, loaded = roundtrip([RULES], "once")
    seen = {}
    count = 0
    for r in loaded.rules:
        for name in r.inputs:
            count += 1
            assert seen.setdefault(name, name) is name
    assert count > len(seen)  # some signal is read by several rules, and held once
    charging = [node for r in loaded.rules for e in r.exprs() for node in _walk(e) if node[:2] == (4, "evcc.loadpoints.1.charging")]
    assert len(charging) >= 2 and all(node is charging[0] for node in charging)  # one node, read in two places


def _walk(node):
    yield node
    for part in node:
        if isinstance(part, tuple):
            yield from _walk(part)


def test_a_file_that_is_not_compiled_rules_says_what_and_where():
    path = scratch("broken.compiled")
    rs, _ = roundtrip([RULES], "good")
    text = compiled.dump(rs, ruleset.rule_files([RULES])[0])
    cases = [
        ("", "1:1: not a file of compiled rules"),
        ("<html>500</html>\n", "1:1: not a line of compiled rules (broken JSON)"),
        (text.replace('"format": 1', '"format": 9'), "1:1: compiled rules of format 9; this sunshift reads format 1"),
        ("\n".join(text.split("\n")[:3]) + "\n", "3:1: the file ends before all its rules (copied only in part?)"),
        (text.replace('["rule", ', '["rules", ', 1), "unknown line 'rules'"),
        (text + '["rule", "x"]\n', "not what compiled rules hold"),
        (text.split("\n")[0] + "\n" + "x" * (compiled.MAX_LINE + 10) + "\n", "2:1: a line longer than %d bytes" % compiled.MAX_LINE),
    ]
    for content, wanted in cases:
        port.write_atomic(path, content)
        e = raises(RuleError, compiled.load, path)
        assert path in str(e) and wanted in str(e), (wanted, str(e))
    e = raises(RuleError, compiled.load, scratch("no-such.compiled"))
    assert "no compiled rules here: deploy them with python3 tools/deploy.py --rules-only" in str(e)


def test_rule_files_that_differ_from_what_was_compiled_are_named():
    folder = scratch("texts")
    if not port.is_dir(folder):
        import os

        os.mkdir(folder)
    for name in port.list_dir(folder):
        port.remove(port.join(folder, name))
    port.write_atomic(folder + "/ev.rules", "rule ev\n  when envoy.production > 1kW\n  then evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode = off\n")
    port.write_atomic(folder + "/old.rules", "# nothing\n")
    rs = ruleset.load([folder])
    path = scratch("texts.compiled")
    port.write_atomic(path, compiled.dump(rs, ruleset.rule_files([folder])[0]))
    loaded = compiled.load(path)
    assert compiled.stale_texts(loaded, folder) is None
    port.write_atomic(folder + "/ev.rules", "rule ev\n  when envoy.production > 2kW\n  then evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode = off\n")
    port.remove(folder + "/old.rules")
    assert compiled.stale_texts(loaded, folder) == "changed or new: ev.rules; gone: old.rules"
    assert compiled.stale_texts(loaded, folder + "/missing") is None
