"""Padding rules: the registry of names, the index map, and :func:`pad`."""

from padlab.modes.index import index_table, source_index
from padlab.modes.padding import pad
from padlab.modes.registry import (
    LIBRARIES,
    RULES,
    Library,
    Mode,
    ModeName,
    Modes,
    Rule,
    check_rule_options,
    describe,
    library_names,
    resolve_mode,
    rule_names,
    translate,
)

__all__ = [
    "LIBRARIES",
    "RULES",
    "Library",
    "Mode",
    "ModeName",
    "Modes",
    "Rule",
    "check_rule_options",
    "describe",
    "index_table",
    "library_names",
    "pad",
    "resolve_mode",
    "rule_names",
    "source_index",
    "translate",
]
