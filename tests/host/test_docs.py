"""The docs read the code's tables: docs/signals.md's table of every kind is what
tools/kinds_doc.py makes from the adapters (run it with --write after a change)."""

import kinds_doc

from sunshift.devices import kinds


def test_the_table_of_kinds_in_the_docs_is_the_adapters():
    with open(kinds_doc.DOC, encoding="utf-8") as f:
        text = f.read()
    assert kinds_doc.section() in text, "docs/signals.md is behind the adapters: python3 tools/kinds_doc.py --write"
    for kind in kinds.names():
        assert '(`"type": "%s"`)' % kind in kinds_doc.section()


def test_every_kind_of_value_has_a_unit_and_words_and_none_is_left_over():
    from sunshift.lang.quantities import unit_kind

    for kind in kinds.names():
        cls = kinds.adapter_class(kind)
        used = set(value for _, value in cls.TARGETS)
        assert used == set(entry[0] for entry in cls.VALUES), kind
        for _, unit, words in cls.VALUES:
            unit_kind(unit)  # a unit `check` knows (KeyError otherwise)
            assert words
        for _, unit in cls.SIGNALS:
            unit_kind(unit)
