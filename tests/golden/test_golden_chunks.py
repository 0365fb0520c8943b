"""Golden files: raw help-centre documents under ``inputs/`` and their exact blocks and chunks under
``expected/<input name>.json``.

Run with ``KB_UPDATE_GOLDEN=1`` to rewrite the expected files after an intended change, then read the diff
(and bump ``CHUNKER_VERSION`` when chunk texts changed). The update mode only writes, and fails the run, so
a green run has always compared against files that were on disk before it started.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ingest.chunking import approx_tokens, chunk_blocks
from ingest.formats.front_matter import parse_front_matter
from ingest.formats.html import html_blocks, html_title
from ingest.formats.markdown import markdown_blocks
from ingest.formats.text import text_blocks

HERE = Path(__file__).parent
INPUTS = sorted((HERE / "inputs").iterdir())
EXPECTED = HERE / "expected"
MAX_TOKENS = 80  # small, so that the inputs exercise packing, table and list handling and splitting
OVERLAP_TOKENS = 20


def render(path: Path) -> dict[str, Any]:
    """Everything the ingest steps derive from one raw file, as plain JSON data."""
    raw = path.read_text(encoding="utf-8")
    meta: dict[str, Any] = {}
    if path.suffix == ".html":
        title = html_title(raw)
        blocks = html_blocks(raw)
    else:
        meta, body = parse_front_matter(raw)
        blocks = markdown_blocks(body) if path.suffix == ".md" else text_blocks(body)
        title = str(meta["title"]) if meta.get("title") else None
    chunks = chunk_blocks(blocks, max_tokens=MAX_TOKENS, overlap_tokens=OVERLAP_TOKENS, title=title)
    return {
        "meta": meta,
        "title": title,
        "blocks": [
            {"kind": b.kind, "level": b.level, "section_path": list(b.section_path), "text": b.text,
             "span": [b.char_start, b.char_end]}
            for b in blocks
        ],
        "chunks": [
            {"position": c.position, "section_path": list(c.section_path), "span": [c.char_start, c.char_end],
             "tokens": approx_tokens(c.text), "text": c.text}
            for c in chunks
        ],
    }


@pytest.mark.parametrize("path", INPUTS, ids=[p.name for p in INPUTS])
def test_golden(path: Path) -> None:
    expected_path = EXPECTED / f"{path.name}.json"
    got = render(path)
    if os.environ.get("KB_UPDATE_GOLDEN") == "1":
        expected_path.write_text(json.dumps(got, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        pytest.fail(f"KB_UPDATE_GOLDEN=1: wrote {expected_path.name}; nothing was compared. Read the diff, "
                    "then run again without KB_UPDATE_GOLDEN")
    assert expected_path.exists(), f"no expected output for {path.name}: run with KB_UPDATE_GOLDEN=1"
    assert got == json.loads(expected_path.read_text(encoding="utf-8"))


def test_every_expected_file_has_an_input() -> None:
    names = {f"{p.name}.json" for p in INPUTS}
    assert sorted(p.name for p in EXPECTED.iterdir() if p.name not in names) == []


def test_golden_chunks_stay_within_budget() -> None:
    for path in INPUTS:
        assert all(c["tokens"] <= MAX_TOKENS for c in render(path)["chunks"]), path.name
