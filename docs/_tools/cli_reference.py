"""Generate ``docs/reference/cli.md`` from the ``helpcrunch`` command's argparse parser.

``python docs/_tools/cli_reference.py`` writes the page; ``--check`` only compares it with
the committed one (exit 1 when they differ). ``build.py`` and ``tests/docs`` run the check,
so a subcommand or option added, renamed or re-described shows up as a failed build until
the page is generated again.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "reference" / "cli.md"
WIDTH = "88"  # the usage lines' width, fixed so the page does not depend on the terminal

_HEADER = """\
# The `helpcrunch` command

Generated from the command's own parser by `docs/_tools/cli_reference.py` (do not edit:
run `python docs/_tools/cli_reference.py`). The guide is
[The helpcrunch command](../guides/command.md).
"""


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a table cell's own bar, even inside a code span


def _option_rows(parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    rows = ["| option | what it does |", "| --- | --- |"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            metavar = (
                ""
                if action.nargs == 0
                else " "
                + formatter._format_args(
                    action, formatter._get_default_metavar_for_optional(action)
                )
            )
            name = ", ".join(f"`{o}{metavar}`" for o in action.option_strings)
        else:
            name = (
                "`"
                + formatter._format_args(
                    action, formatter._get_default_metavar_for_positional(action)
                )
                + "`"
            )
        text = formatter._expand_help(action) if action.help else ""
        rows.append(f"| {_cell(name)} | {_cell(text)} |")
    return rows


def _section(title: str, parser: argparse.ArgumentParser, level: str) -> list[str]:
    lines = [f"{level} {title}", ""]
    if parser.description:
        lines += [parser.description, ""]
    lines += ["```text", parser.format_usage().strip(), "```", ""]
    lines += [*_option_rows(parser), ""]
    if parser.epilog:
        lines += ["```text", parser.epilog.strip("\n"), "```", ""]
    return lines


def render() -> str:
    """The page, from the parser as it is now."""
    os.environ["COLUMNS"] = WIDTH  # argparse wraps usage lines at $COLUMNS
    from helpcrunch_async.cli._main import _parser

    parser = _parser()
    lines = [_HEADER, *_section("helpcrunch", parser, "##")]
    for name, sub in _subcommands(parser).items():
        lines += _section(f"helpcrunch {name}", sub, "##")
    return "\n".join(lines).rstrip("\n") + "\n"


def check() -> int:
    """0 when the committed page is the generated one; 1 (saying so) otherwise."""
    if PAGE.exists() and PAGE.read_text(encoding="utf-8") == render():
        return 0
    print(
        f"docs: {PAGE} is out of date with the command's parser; run "
        "python docs/_tools/cli_reference.py",
        file=sys.stderr,
    )
    return 1


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        return check()
    PAGE.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
