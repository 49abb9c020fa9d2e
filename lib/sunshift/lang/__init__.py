"""The rule language: text to compact rules, never eval.  Imports only the base modules."""
