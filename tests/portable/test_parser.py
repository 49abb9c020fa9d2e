"""The rule language: what parses to what, and what every mistake says."""

from sunshift import port, units
from sunshift.errors import RuleError
from sunshift.lang import nodes, ruleset
from support import first_problem, problems, raises, rules, scratch

EXAMPLE = """# Charge the car from solar surplus; never flap.
let surplus = -envoy.net_consumption + evcc.loadpoints.1.chargePower

rule ev_surplus "Car charges from surplus"
  when avg(surplus, 1m) > 1.4kW for 2m
  until avg(surplus, 1m) < 300W for 5m
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
  hold 10m
  during 07:00-21:00
  priority 10

rule hot_water "Hot water from surplus"
  when surplus > 2.5kW for 5m and emsesp.boiler.dhw.curtemp < 55
  then emsesp.boiler.dhw.seltemp = 60
  else emsesp.boiler.dhw.seltemp = 50
"""


def when_of(condition):
    rs = rules("rule r\n  when %s\n  then a.b = 1\n  else a.b = 0\n" % condition)
    return rs.rules[0].when


def test_the_issue_example_parses_into_what_it_says():
    rs = rules(EXAMPLE)
    assert [let.name for let in rs.lets] == ["surplus"]
    assert rs.lets[0].inputs == ("envoy.net_consumption", "evcc.loadpoints.1.chargePower")
    ev, hw = rs.rules
    assert (ev.name, ev.title) == ("ev_surplus", "Car charges from surplus")
    assert nodes.unparse(ev.when) == "avg(surplus, 1m) > 1.4kW for 2m"
    assert nodes.unparse(ev.until) == "avg(surplus, 1m) < 300W for 5m"
    assert ev.then == (("evcc.loadpoints.1.mode", (nodes.STR, "pv")),)
    assert ev.otherwise == (("evcc.loadpoints.1.mode", (nodes.STR, "off")),)
    assert (ev.hold, ev.during, ev.priority) == (600, ((7 * 3600, 21 * 3600),), 10)
    assert ev.inputs == ("envoy.net_consumption", "evcc.loadpoints.1.chargePower")
    assert hw.priority == 0 and hw.hold == 0 and hw.during is None
    assert hw.inputs == ("envoy.net_consumption", "evcc.loadpoints.1.chargePower", "emsesp.boiler.dhw.curtemp")
    # The `for` in the middle binds to the comparison before it.
    assert hw.when[0] == nodes.AND and hw.when[1][0] == nodes.FOR and hw.when[2][0] == nodes.CMP
    assert rs.targets == ["evcc.loadpoints.1.mode", "emsesp.boiler.dhw.seltemp"]
    assert rs.windows == {"surplus": 60}
    assert rs.warnings == []


def test_precedence_of_arithmetic_and_logic():
    assert nodes.unparse(when_of("a.x + a.y * 2 > 3 or a.z < 1 and a.w > 2")) == "a.x + a.y * 2 > 3 or a.z < 1 and a.w > 2"
    node = when_of("a.x + a.y * 2 > 3 or a.z < 1 and a.w > 2")
    assert node[0] == nodes.OR and node[2][0] == nodes.AND
    assert nodes.unparse(when_of("(a.x + a.y) * 2 > 3")) == "(a.x + a.y) * 2 > 3"
    assert nodes.unparse(when_of("a.x - (a.y - a.z) > 0")) == "a.x - (a.y - a.z) > 0"
    assert nodes.unparse(when_of("-a.x > -2kW")) == "-a.x > -2kW"


def test_a_trailing_for_covers_the_whole_condition():
    node = when_of("a.x > 1 and a.y < 2 for 5m")
    assert node[0] == nodes.FOR and node[1][0] == nodes.AND and node[2] == 300
    node = when_of("(a.x > 1 or a.y < 2 for 5m) and a.z")
    assert node[0] == nodes.AND and node[1][0] == nodes.FOR and node[1][1][0] == nodes.OR
    node = when_of("a.x > 1 for 5m and a.y < 2")
    assert node[0] == nodes.AND and node[1][0] == nodes.FOR
    # With a `for` earlier in the condition, each `for` keeps to its comparison.
    node = when_of("a.x > 1 for 1m and a.y < 2 for 5m")
    assert node[0] == nodes.AND and node[1][2] == 60 and node[2][0] == nodes.FOR and node[2][2] == 300
    node = when_of("a.x > 1 for 1m and (a.y < 2 or a.z for 5m)")
    assert node[2][0] == nodes.FOR and node[2][1][0] == nodes.OR
    # `not` binds tighter than `for`: "has not been above 1 for 2m".
    node = when_of("not a.x > 1 for 2m")
    assert node[0] == nodes.FOR and node[1][0] == nodes.NOT


def test_timers_get_slots_and_the_right_side_of_and_is_never_skipped():
    rs = rules("rule r\n  when a.x > 1 for 1m and a.y > 1 for 2m\n  until a.z for 3m\n  then a.b = 1\n")
    r = rs.rules[0]
    assert r.timers == 3 and r.until_first == 2
    assert r.when[1][0] == nodes.FOR and r.when[1][3] == 0 and r.when[2][0] == nodes.FOR and r.when[2][3] == 1
    assert r.when[0] == nodes.AND and r.when[3] is True  # eval_both


def test_clauses_wrap_over_lines_and_actions_list():
    rs = rules(
        """
rule r
  when a.x > 1
    and a.y < 2
  then evcc.loadpoints.1.mode = pv
       emsesp.boiler.dhw.seltemp = 60, evcc.site.prioritySoc = 80
  else evcc.loadpoints.1.mode = "off"
  else emsesp.boiler.dhw.seltemp = 50
"""
    )
    r = rs.rules[0]
    assert nodes.unparse(r.when) == "a.x > 1 and a.y < 2"
    assert [t for t, _ in r.then] == ["evcc.loadpoints.1.mode", "emsesp.boiler.dhw.seltemp", "evcc.site.prioritySoc"]
    assert r.otherwise == (("evcc.loadpoints.1.mode", (nodes.STR, "off")), ("emsesp.boiler.dhw.seltemp", (nodes.NUM, 50, units.NONE, "")))


def test_values_can_be_expressions_lets_and_booleans():
    rs = rules(
        """
let amps = surplus / 230V
let surplus = -envoy.net_consumption
rule r
  when surplus > 1kW
  then evcc.loadpoints.1.maxCurrent = min(16A, round(amps)), evcc.site.batteryDischargeControl = true
"""
    )
    r = rs.rules[0]
    assert [let.name for let in rs.lets] == ["surplus", "amps"]  # evaluation order follows dependencies
    assert nodes.unparse(r.then[0][1]) == "min(16A, round(amps))"
    assert r.then[1][1] == (nodes.BOOL, True)
    # No rule sets the targets back: check says so.
    assert len(rs.warnings) == 2 and "no rule sets evcc.loadpoints.1.maxCurrent back" in rs.warnings[0].message


def test_a_bare_word_that_is_a_let_is_the_let_with_a_warning():
    found = problems("let pv = 1\nrule r\n  when a.x\n  then a.mode = pv\n  else a.mode = 0\n")
    assert found == ["4:17: warning: 'pv' is a let here; write \"pv\" in quotes if you mean the text"]


def test_windowed_and_plain_min_max():
    rs = rules(
        "let s = a.x\nrule r\n  when min(s, 5m) > 1 and max(a.y, 30s) < 2 and max(a.y, a.z, 1) > 0 and avg(a.y, 1h) > 0\n  then a.b = 1\n  else a.b = 0\n"
    )
    assert rs.windows == {"s": 300, "a.y": 3600}
    w = rs.rules[0].when
    assert nodes.unparse(w) == "min(s, 5m) > 1 and max(a.y, 30s) < 2 and max(a.y, a.z, 1) > 0 and avg(a.y, 1h) > 0"


def test_age_is_not_an_input_for_staleness():
    rs = rules("rule r\n  when age(envoy.production) > 5m\n  then a.alarm = true\n  else a.alarm = false\n")
    assert rs.rules[0].inputs == ()


def test_lets_across_files_in_any_order():
    rs = ruleset.compile_sources([("b.rules", "rule r\n  when s > 1\n  then a.b = 1\n  else a.b = 0\n"), ("a.rules", "let s = t * 2\nlet t = a.x\n")])
    assert [let.name for let in rs.lets] == ["t", "s"]
    assert rs.rules[0].inputs == ("a.x",)


# --- mistakes ---------------------------------------------------------------


def test_unknown_keyword_and_clause():
    assert first_problem("rulle r\n  when a.x\n  then a.b = 1\n") == "1:1: unknown keyword 'rulle'; did you mean 'rule'?"
    assert first_problem("rule r\n  whne a.x\n  then a.b = 1\n") == "2:3: unknown clause 'whne'; did you mean 'when'?"
    assert (
        first_problem("rule r\n  when a.x\n  shazam 5\n")
        == "3:3: expected a clause (when, until, then, else, hold, during, priority, stale after), got 'shazam'"
    )
    assert first_problem("when a.x\n") == "1:1: 'when' belongs inside a rule: start one with 'rule NAME'"
    assert first_problem("rule r when a.x\n") == "1:8: start 'when' on a new line"


def test_bad_units():
    assert first_problem("rule r\n  when a.x > 1kw\n  then a.b = 1\n") == "2:15: unknown unit 'kw'; did you mean 'kW'?"
    assert first_problem("rule r\n  when a.x > 1 kW\n  then a.b = 1\n") == "2:16: write 1kW, without a space between the number and its unit"
    assert first_problem("rule r\n  when a.x > 1kW + 5m\n  then a.b = 1\n") == "2:18: cannot add a power and a duration"
    assert first_problem("rule r\n  when a.x + 2kW > 5m\n  then a.b = 1\n") == "2:18: cannot compare a power with a duration"


def test_unbalanced_parentheses():
    assert first_problem("rule r\n  when (a.x > 1 and a.y\n  then a.b = 1\n") == "2:8: this '(' is never closed"
    assert first_problem("rule r\n  when (a.x > 1)) and a.y\n  then a.b = 1\n") == "2:17: expected 'and', 'or' or a new clause after the condition, got ')'"
    assert first_problem("rule r\n  when (a.x > 1\n") == "2:8: this '(' is never closed"


def test_unknown_function_and_wrong_arguments():
    assert first_problem("rule r\n  when avrg(a.x, 1m) > 1\n  then a.b = 1\n") == "2:8: unknown function 'avrg'; did you mean 'avg'?"
    assert first_problem("rule r\n  when sqrt(a.x) > 1\n  then a.b = 1\n") == (
        "2:8: unknown function 'sqrt' (functions: abs, age, avg, cheapest, cheapest_block, energy, max, min, percentile, round)"
    )
    assert first_problem("rule r\n  when avg(a.x) > 1\n  then a.b = 1\n") == "2:8: avg takes a signal or let and a window, like avg(surplus, 1m)"
    assert first_problem("rule r\n  when avg(a.x, 5) > 1\n  then a.b = 1\n") == "2:8: avg takes a signal or let and a window, like avg(surplus, 1m)"
    assert first_problem("rule r\n  when age(1) > 1\n  then a.b = 1\n") == "2:8: age takes one signal or let, like age(envoy.production)"
    assert first_problem("rule r\n  when min(a.x) > 1\n  then a.b = 1\n").startswith("2:8: min takes a signal and a window")


def test_duplicate_names():
    text = "rule r\n  when a.x\n  then a.b = 1\n  else a.b = 0\n"
    e = raises(RuleError, ruleset.compile_sources, [("one.rules", text), ("two.rules", text)])
    assert [str(p) for p in e.problems] == ["two.rules:1:6: rule 'r' is already defined at one.rules:1"]
    assert first_problem("let s = 1\nlet s = 2\n") == "2:5: let 's' is already defined at test.rules:1"
    assert first_problem("rule r\n  when a.x\n  when a.y\n  then a.b = 1\n") == "3:3: rule 'r' already has a 'when' clause (join conditions with 'and')"
    assert first_problem("rule r\n  when a.x\n  then a.b = 1, a.b = 2\n") == "3:17: 'a.b' is set twice in this 'then'"


def test_for_hold_and_stale_need_durations():
    assert first_problem("rule r\n  when a.x > 1 for\n  then a.b = 1\n") == "3:3: for needs a duration like 30s, 5m or 1h, got 'then'"
    assert first_problem("rule r\n  when a.x > 1 for 5\n  then a.b = 1\n") == "2:20: for needs a unit after 5: write 5m for minutes, 5s or 5h"
    assert first_problem("rule r\n  when a.x\n  then a.b = 1\n  hold 10kW\n") == "4:8: hold needs a duration like 30s, 5m or 1h, got the number 10kW"
    assert first_problem("rule r\n  when a.x\n  then a.b = 1\n  stale 5m\n") == "4:9: write 'stale after' and a duration, like 'stale after 90s'"
    assert first_problem("rule r\n  when a.x\n  then a.b = 1 for 5m\n") == "3:16: 'for' belongs in a condition (when, until, let), not in a value"


def test_garbage_bytes_are_not_text():
    e = raises(RuleError, ruleset.compile_sources, [("bin.rules", b"rule r\n  when \xff\xfe\x00\x01")])
    assert [str(p) for p in e.problems] == ["bin.rules:2:8: this is not UTF-8 text (byte 0xff); save the file as UTF-8"]
    assert first_problem("rule r\n  when a.x\x00\n") == "2:11: unexpected control character (code 0); is this a text file?"


def test_a_huge_file_is_refused_before_it_is_read():
    path = scratch("huge.rules")
    chunk = "# " + "x" * 1021 + "\n"  # 1 KiB a line
    f = open(path, "w")
    for _ in range(1024):
        f.write(chunk)
    f.close()
    e = raises(RuleError, ruleset.load, [path])
    assert [str(p) for p in e.problems] == ["%s:1:1: the file is 1048576 bytes; rule files are limited to 65536 (MAX_FILE_BYTES)" % path]
    port.remove(path)


def test_comparisons_and_equality_mistakes():
    assert first_problem("rule r\n  when a.x = 1\n  then a.b = 1\n") == "2:12: use '==' to compare ('=' sets a target in then/else)"
    assert first_problem("rule r\n  when a.x\n  then a.b == 1\n") == "3:12: use '=' to set a target ('==' compares)"
    assert first_problem("rule r\n  when 1 < a.x < 3\n  then a.b = 1\n") == "2:16: comparisons do not chain; write 'a < b and b < c'"
    assert first_problem('rule r\n  when a.mode > "pv"\n  then a.b = 1\n') == "2:15: texts can only be compared with == and !="
    assert first_problem("rule r\n  when 5\n  then a.b = 1\n") == "2:3: 'when' needs a condition that is true or false, like 'x > 5', not 5"


def test_names_and_targets():
    assert (
        first_problem("rule r\n  when surplus > 1\n  then a.b = 1\n")
        == "2:8: unknown name 'surplus' (device signals have dots, like envoy.production; put text in quotes)"
    )
    assert first_problem("let surplus = 1\nrule r\n  when surpls > 1\n  then a.b = 1\n") == "3:8: unknown name 'surpls'; did you mean 'surplus'?"
    assert first_problem("rule r\n  when a.x\n  then mode = pv\n") == "3:8: a target is a device setting with dots, like evcc.loadpoints.1.mode, not 'mode'"
    assert first_problem("let a.b = 1\n") == "1:5: a let's name has no dots (dotted names are device signals)"
    assert first_problem("rule when\n") == "1:6: 'when' is a keyword; choose another rule name"
    assert first_problem("let a = b\nlet b = c\nlet c = a\n") == "1:5: let 'a' depends on itself: a -> b -> c -> a"


def test_missing_clauses_and_bad_windows():
    assert first_problem("rule r\n  then a.b = 1\n") == "1:6: rule 'r' has no 'when' clause"
    assert first_problem("rule r\n  when a.x\n") == "1:6: rule 'r' has no 'then' clause"
    assert first_problem("rule r\n  when a.x\n  then a.b = 1\n  during 07:00-07:00\n") == "4:10: 07:00-07:00 is empty; leave 'during' out for all day"
    assert first_problem("rule r\n  when a.x\n  then a.b = 1\n  during 7am\n").startswith("4:11: unknown unit 'am'")
    assert first_problem("rule r\n  when a.x\n  then a.b = 1\n  priority 1.5\n") == "4:12: priority needs a whole number like 10, got the number 1.5"
    assert first_problem("rule r\n  when a.x > 07:00\n  then a.b = 1\n") == "2:14: a time of day like 07:00 only goes in 'during'"


def test_nesting_is_limited_with_a_clear_error():
    deep = "(" * 40 + "a.x" + ")" * 40
    assert first_problem("rule r\n  when %s > 1\n  then a.b = 1\n" % deep).endswith("expression is nested too deeply (more than 32 levels)")
    chain = " + ".join(["a.x"] * 40)
    assert first_problem("rule r\n  when %s > 1\n  then a.b = 1\n" % chain).endswith("expression is nested too deeply (more than 32 levels)")
    nots = "not " * 40 + "a.x"
    assert first_problem("rule r\n  when %s\n  then a.b = 1\n" % nots).endswith("expression is nested too deeply (more than 32 levels)")
    # Just under the limit still parses.
    ok = "(" * 20 + "a.x" + ")" * 20
    assert rules("rule r\n  when %s > 1\n  then a.b = 1\n  else a.b = 0\n" % ok).rules[0].when[0] == nodes.CMP


def test_several_errors_in_one_file_each_with_its_place():
    text = """let a = b + 1
rule x
  whne envoy.production > 1kW
  then evcc.mode = pv
rule y
  when (envoy.production > 1 and
  then x.y = 1
rulle z
  when a > 5m
"""
    assert problems(text) == [
        "3:3: unknown clause 'whne'; did you mean 'when'?",
        "6:8: this '(' is never closed",
        "8:1: unknown keyword 'rulle'; did you mean 'rule'?",
    ]


def test_a_reading_error_does_not_hide_the_rest_of_the_file():
    text = "rule r\n  whne a.x\n  then a.b = 1\nrule s\n  when a.y > 1kw and && a.z\n  then a.b = 2\n  hold 5\n"
    assert problems(text) == [
        "2:3: unknown clause 'whne'; did you mean 'when'?",
        "5:15: unknown unit 'kw'; did you mean 'kW'?",
        "5:22: write 'and' instead of '&&'",
        "5:23: write 'and' instead of '&&'",
        "7:8: hold needs a unit after 5: write 5m for minutes, 5s or 5h",
    ]


def test_a_clause_with_nothing_after_it():
    assert first_problem("rule r\n  when\n  then a.b = 1\n") == "2:3: 'when' needs a condition"
    assert first_problem("rule r\n  when a.x\n  then a.b =\n") == "3:12: '=' needs a value"
    assert first_problem("let s =\n") == "1:7: '=' needs a value"


def test_conflicts_are_warnings():
    found = problems(
        """
rule a
  when x.y > 1
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
rule b
  when x.z > 1
  then evcc.loadpoints.1.mode = now
"""
    )
    assert found == [
        "6:6: warning: rules 'a' (test.rules:2) and 'b' both set evcc.loadpoints.1.mode at priority 0; "
        "when both apply, 'a' wins because it comes first; give one a higher priority"
    ]
    # With a priority the conflict is settled and check says nothing.
    assert problems("rule a\n  when x.y\n  then t.m = 1\n  else t.m = 0\nrule b\n  when x.z\n  then t.m = 2\n  priority 5\n") == []


def test_the_shipped_rules_pass():
    rs = ruleset.load([support_rules()])
    assert len(rs.rules) >= 3
    assert "evcc.loadpoints.1.mode" in rs.targets and "emsesp.boiler.dhw.seltemp" in rs.targets


def support_rules():
    from support import RULES

    return RULES


def test_load_reports_missing_paths_and_empty_folders():
    e = raises(RuleError, ruleset.load, ["no/such/file.rules"])
    assert [str(p) for p in e.problems] == ["no/such/file.rules:1:1: no such file or folder"]
    folder = scratch("empty-folder")
    try:
        import os

        os.mkdir(folder)
    except OSError:
        pass
    e = raises(RuleError, ruleset.load, [folder])
    assert [str(p) for p in e.problems] == [folder + ":1:1: no .rules files in this folder"]


# --- the common slips of a home owner (issue 16, point 5) -------------------


def slip(condition):
    return first_problem("rule ev\n  when %s\n  then evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode = off\n" % condition)


def test_a_space_between_a_number_and_its_unit():
    assert slip("avg(surplus, 1m) > 1.4 kW for 2m") == "2:31: write 1.4kW, without a space between the number and its unit"
    assert slip("a.x > 1.4 KW") == "2:18: write 1.4kW, without a space between the number and its unit"
    assert slip("a.x > 50 %") == "2:17: write 50%, without a space between the number and its unit"
    assert slip("a.x < 55 °C") == "2:17: write 55°C, without a space between the number and its unit"
    assert slip("a.x > 1 for 2 min") == "2:22: write 2min, without a space between the number and its unit"
    assert slip("a.x > 1 for 2 minutes") == "2:22: write 2m, without a space between the number and its unit"
    # A word that is no unit is not taken for one.
    assert slip("a.x > 1 apples") == "2:16: expected 'and', 'or' or a new clause after the condition, got 'apples'"


def test_a_forgotten_then_or_else():
    text = "rule ev\n  when a.x > 1kW\n  evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode = off\n"
    assert first_problem(text) == "3:3: did you forget 'then' (or 'else')? 'evcc.loadpoints.1.mode = ...' sets a target"
    text = "rule ev\n  when a.x > 1kW\n  then evcc.loadpoints.1.mode = pv\n  evcc.loadpoints.1.mode = off\n"
    assert first_problem(text) == "4:3: 'evcc.loadpoints.1.mode' is set twice in this 'then'; did you forget 'else'?"


def test_operators_written_the_other_way_round():
    assert slip("a.x => 1kW") == "2:12: write '>=' for 'at least', not '=>'"
    assert slip("a.x =< 1kW") == "2:12: write '<=' for 'at most', not '=<'"
    assert slip("a.x <> 1kW") == "2:12: write '!=' for 'not equal', not '<>'"
    assert slip("a.x =! 1kW") == "2:12: write '!=' for 'not equal', not '=!'"


def test_conditions_joined_by_a_comma_or_capital_words():
    assert slip("a.x > 1kW, a.y < 5") == "2:17: join conditions with 'and' or 'or', not ','"
    assert slip("a.x > 1,4kW") == "2:14: write 1.4kW with a '.', not ','"
    assert slip("a.x > 1,45kW") == "2:14: write 1.45kW with a '.', not ','"
    assert slip("a.x > 1kW AND a.y < 5") == "2:18: write 'and' in small letters"
    assert slip("a.x > 1kW Or a.y < 5") == "2:18: write 'or' in small letters"


def test_if_is_and_between_actions_and_a_dotted_time():
    text = "rule ev\n  if a.x > 1kW\n  then evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode = off\n"
    assert first_problem(text) == "2:3: a rule's condition starts with 'when', not 'if'"
    assert slip('a.mode is "pv"') == "2:15: compare with '==', not 'is'"
    assert slip('a.mode is not "pv"') == "2:15: compare with '!=', not 'is not'"
    text = "rule ev\n  when a.x > 1kW\n  then evcc.loadpoints.1.mode = pv and a.b = 60\n  else evcc.loadpoints.1.mode = off\n"
    assert first_problem(text) == "3:36: separate actions with ',' or a new line, not 'and'"
    text = "rule ev\n  when a.x > 1kW\n  then a.b = a.y and a.z\n  else a.b = false\n"
    assert problems(text) == []  # an `and` in a value, without a second '=', is a value
    text = "rule ev\n  when a.x > 1kW\n  then a.b = 1\n  else a.b = 0\n  during 07.00-21.00\n"
    assert first_problem(text) == "5:10: write 07:00 with ':', not '.'"


def test_a_duration_without_its_unit():
    assert slip("a.x > 1kW for 2") == "2:22: for needs a unit after 2: write 2m for minutes, 2s or 2h"
    text = "rule r\n  when a.x\n  then a.b = 1\n  hold 10\n"
    assert first_problem(text) == "4:8: hold needs a unit after 10: write 10m for minutes, 10s or 10h"


def test_a_rule_without_a_proper_name():
    assert first_problem("rule\n  when a.x\n  then a.b = 1\n") == "1:1: a rule needs a name, like 'rule ev_surplus'"
    assert first_problem('rule "Car"\n  when a.x\n  then a.b = 1\n') == "1:6: a rule needs a name before its title, like 'rule ev_surplus \"Car\"'"
    assert first_problem("rule ev surplus\n  when a.x\n  then a.b = 1\n") == "1:9: a rule's name is one word: write 'ev_surplus'"
    assert first_problem("rule ev-surplus\n  when a.x\n  then a.b = 1\n") == "1:8: a rule's name is one word: write 'ev_surplus'"


def test_colons_and_a_let_with_two_equals():
    assert first_problem("rule ev:\n  when a.x\n  then a.b = 1\n") == "1:8: no ':' here: a clause needs none, and a target is set with '='"
    assert first_problem("rule r\n  when a.x\n  then a.b: 1\n") == "3:11: no ':' here: a clause needs none, and a target is set with '='"
    assert first_problem("let s == 5\n") == "1:7: a let is defined with '=' ('==' compares)"
