"""What users see does not change by accident: the commands of tools/outputs.py
print what tests/outputs/ recorded (record again when a change is meant)."""

import os

import outputs

FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "outputs")


def test_the_commands_print_what_was_recorded():
    diffs = outputs.compare(FOLDER)
    assert not diffs, "outputs differ from tests/outputs (python3 tools/outputs.py record tests/outputs when meant):\n" + "".join(diffs)[:20000]
