"""The ``padlab-rules`` directive: the rules page, generated from padlab's registry at build time.

For every rule of :data:`padlab.modes.registry.RULES`: its diagram on ``a b c d`` padded by three
samples each side, what it invents, its keyword options, and its name in every library
(:data:`padlab.modes.registry.LIBRARIES`), or "none" where that library has no such rule. Nothing
on the page is written by hand, so it cannot drift from the code.
"""

from __future__ import annotations

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

from padlab.modes.registry import LIBRARIES, RULES


def _cell(text: str) -> str:
    return text.replace("|", r"\|") if text else ""


def _names(rule_names: tuple[str, ...] | None) -> str:
    if not rule_names:
        return "none"
    return ", ".join(f"``{name}``" for name in rule_names)


def rules_rst() -> list[str]:
    """The page's reStructuredText, from the registry."""
    libraries = list(LIBRARIES.values())
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :class: padlab-names",
        "",
        "   * - padlab",
        "     - diagram",
    ]
    lines += [f"     - {lib.key}" for lib in libraries]
    for rule in RULES:
        lines.append(f"   * - :ref:`{rule.name} <rule-{rule.name}>`")
        lines.append(f"     - ``{rule.pattern}``")
        for lib in libraries:
            names = rule.names.get(lib.key)
            lines.append(f"     - {'``' + names[0] + '``' if names else 'none'}")
    lines.append("")
    for rule in RULES:
        title = rule.name
        lines += [
            f".. _rule-{rule.name}:",
            "",
            title,
            "-" * len(title),
            "",
            ".. code-block:: text",
            "",
            f"   {rule.pattern}",
            "",
            f"{rule.summary[0].upper()}{rule.summary[1:]}.",
            "",
        ]
        if rule.options:
            opts = ", ".join(f"``{o}=``" for o in rule.options)
            lines += [f"Options of :func:`padlab.pad`: {opts}.", ""]
        lines += [
            ".. list-table::",
            "   :header-rows: 1",
            "   :class: padlab-names",
            "",
            "   * - library",
            "     - where",
            "     - name(s)",
        ]
        for lib in libraries:
            lines += [
                f"   * - {lib.title}",
                f"     - ``{lib.where}``",
                f"     - {_names(rule.names.get(lib.key))}",
            ]
        lines.append("")
    return lines


class PadlabRules(SphinxDirective):
    """``.. padlab-rules::``: the overview table and one section per rule."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(rules_rst(), "padlab-rules"), container)
        return container.children


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("padlab-rules", PadlabRules)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
