"""YAML front matter at the top of a Markdown or text document: metadata split from the body."""

from __future__ import annotations

from typing import Any

import yaml


def parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split YAML front matter (``---`` line, YAML, ``---`` or ``...`` line, at the very start after an
    optional BOM) from the body. Without front matter the text is returned unchanged with ``{}``.

    An opening ``---`` without a closing line, YAML that does not parse, or YAML that is not a mapping is a
    ``ValueError``: indexing broken metadata as body text would silently corrupt the document.
    """
    lines = text.split("\n")
    if lines[0].lstrip("\ufeff").rstrip(" \t\r") != "---":
        return {}, text
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip(" \t\r") in ("---", "...")), None)
    if close is None:
        raise ValueError("front matter opened with '---' on line 1 is never closed by a '---' line")
    source = "\n".join(lines[1:close])
    try:
        meta = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise ValueError(f"malformed YAML front matter: {_yaml_problem(exc)}") from exc
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ValueError(f"front matter must be a YAML mapping, got {type(meta).__name__}: {meta!r}")
    return {str(k): v for k, v in meta.items()}, "\n".join(lines[close + 1 :])


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what is wrong and where, as a line number in the whole file (the YAML starts on line 2)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark, problem = exc.problem_mark, exc.problem or exc.context or "syntax error"
        return f"{problem} (line {mark.line + 2}, column {mark.column + 1})"
    return " ".join(str(exc).split())
