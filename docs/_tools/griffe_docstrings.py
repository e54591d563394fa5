"""A Griffe extension: the package's docstrings, as written for ``help()`` and doctest,
made into the Markdown mkdocstrings renders (the source files are not changed).

- ``Example:`` (a Google-style *admonition* to Griffe, whose ``>>>`` lines Markdown would
  read as a quotation) becomes ``Examples:``, a section rendered as Python code;
- an ``Args:`` entry naming two parameters (``timeout, max_retries: ...``) becomes one
  entry per parameter, with the same text;
- reStructuredText roles (``:class:`RateLimit```, ``:meth:`aclose```) become code spans,
  and ``:data:``/``:mod:``/``:func:``/``:attr:``/``:exc:`` alike.

Loaded by ``mkdocs.yml`` (``extensions:`` of the Python handler).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

__all__ = ["MarkdownDocstrings"]

_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
_ROLE = re.compile(r":(?:class|meth|func|data|mod|attr|exc|obj):`~?([^`]+)`")
_TWO_PARAMS = re.compile(r"^(\s+)(\w+), (\w+): (.*)$")


def _split_params(text: str) -> str:
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _TWO_PARAMS.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent, first, second, rest = match.groups()
        body = [rest]
        i += 1
        while i < len(lines) and lines[i].startswith(indent + " "):  # its continuation
            body.append(lines[i])
            i += 1
        for name in (first, second):
            out.append(f"{indent}{name}: {body[0]}")
            out.extend(body[1:])
    return "\n".join(out)


def markdown_docstring(text: str) -> str:
    """The docstring ``text`` as mkdocstrings should read it (see the module's docstring)."""
    text = _EXAMPLE.sub(r"\1Examples:", text)
    text = _ROLE.sub(lambda m: f"``{m.group(1)}``", text)
    return _split_params(text)


class MarkdownDocstrings(Extension):
    """Rewrite every docstring once the package is loaded."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)
