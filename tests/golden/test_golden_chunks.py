"""Golden files: raw inputs and their exact cleaned blocks and chunks. ``KB_UPDATE_GOLDEN=1`` rewrites them
(read the diff before committing)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ingest.chunking import chunk_blocks
from ingest.markup import html_blocks, html_title, markdown_blocks, parse_front_matter, text_blocks

HERE = Path(__file__).parent
INPUTS = sorted((HERE / "inputs").iterdir())


def render(path: Path) -> dict[str, object]:
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        title = html_title(raw)
        blocks = html_blocks(raw)
        meta: dict[str, object] = {}
    else:
        meta, body = parse_front_matter(raw)
        blocks = markdown_blocks(body) if path.suffix == ".md" else text_blocks(body)
        title = str(meta.get("title")) if meta.get("title") else None
    chunks = chunk_blocks(blocks, max_tokens=80, overlap_tokens=20, title=title)
    return {
        "meta": meta,
        "title": title,
        "blocks": [[b.kind, list(b.section_path), b.text] for b in blocks],
        "chunks": [{"position": c.position, "section_path": list(c.section_path), "text": c.text} for c in chunks],
    }


@pytest.mark.parametrize("path", INPUTS, ids=[p.name for p in INPUTS])
def test_golden(path: Path) -> None:
    expected_path = HERE / "expected" / (path.name + ".json")
    got = render(path)
    if os.environ.get("KB_UPDATE_GOLDEN") == "1":
        expected_path.write_text(json.dumps(got, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert got == expected
