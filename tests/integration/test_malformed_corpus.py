"""One `kb ingest` over a corpus of malformed inputs: no traceback, every file ingested or quarantined with
a reason, and the good files of the same run land."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def build(folder: Path) -> dict[str, str]:
    """The files, and for each whether it must land ("ok") or be quarantined ("bad")."""
    folder.mkdir()
    rng = random.Random(7)
    expect: dict[str, str] = {}

    def put(name: str, data: bytes, outcome: str) -> None:
        (folder / name).write_bytes(data)
        expect[name] = outcome

    put("good_faq.jsonl", json.dumps({"id": "g1", "question": "How do I reset the hub?",
                                      "answer": "Hold the button for ten seconds."}).encode(), "ok")
    put("good.md", b"# Warranty\n\nThe warranty lasts two years.\n", "ok")
    put("nested.html", ("<html><body>" + "<div>" * 20000 + "<p>Deep help text.</p>" + "</div>" * 20000
                        + "</body></html>").encode(), "ok")
    put("stray_byte.md", "# 退款\n\n退款在3到5个工作日内到账。".encode() + b"\xff\n", "ok")
    put("windows1252.csv", "question,answer\nCafé ouvert?,\"Oui, le café ouvre à 8h.\"\n".encode("cp1252"), "ok")
    put("shift_jis.txt", "営業時間\n\n営業時間は午前9時から午後6時までです。".encode("shift_jis"), "ok")
    put("nul_bytes.txt", b"Opening hours\x00\n\nWe open at nine\x00 every day.\n", "ok")
    put("big_field.csv", ("question,answer\nWhat is in the long manual?," + "word " * 1_000_000 + "\n").encode(), "ok")
    put("random.csv", rng.randbytes(4096), "bad")
    put("random.jsonl", rng.randbytes(4096), "bad")
    put("empty.md", b"", "bad")
    from docx import Document as Docx

    doc = Docx()
    doc.add_heading("Lock guide", 0)
    doc.add_paragraph("Replace the batteries every year.")
    buf = io.BytesIO()
    doc.save(buf)
    put("truncated.docx", truncated(buf.getvalue()), "bad")
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["question", "answer"])
    book.active.append(["Q", "A"])
    buf = io.BytesIO()
    book.save(buf)
    put("truncated.xlsx", truncated(buf.getvalue()), "bad")
    from pypdf import PdfWriter

    pdf = PdfWriter()
    pdf.add_blank_page(200, 200)
    buf = io.BytesIO()
    pdf.write(buf)
    put("truncated.pdf", truncated(buf.getvalue()), "bad")
    return expect


def test_one_run_over_malformed_files(tmp_path: Path) -> None:
    expect = build(tmp_path / "corpus")
    env = {**os.environ, "KB_HOME": str(tmp_path / "kb"), "KB_EMBEDDER": "fake", "KB_ENGLISH_EMBEDDER": "none"}
    run = subprocess.run([sys.executable, "-m", "cli.main", "ingest", str(tmp_path / "corpus"), "--json"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in run.stdout + run.stderr
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    files = {Path(q["source"]).name: q for q in report["quarantined"] if q["location"] == "file"}
    assert sorted(files) == sorted(n for n, outcome in expect.items() if outcome == "bad")
    assert all(q["reason"] and "Traceback" not in q["reason"] for q in files.values())
    assert files["random.csv"]["reason"].startswith("cannot decode: ")
    assert files["empty.md"]["reason"] == "empty document"
    assert [q for q in report["quarantined"] if q["location"] != "file"] == []
    assert (report["files"], report["failed"]) == (len(expect), len(files))
    assert report["entries"] == 3 and report["documents"] == 5
    encodings = {Path(k).name: v for k, v in report["encodings"].items()}
    assert encodings["windows1252.csv"].startswith("cp1252 (confidence ")
    assert encodings["shift_jis.txt"].startswith("cp932 (confidence ")
    assert encodings["stray_byte.md"] == "utf-8 (confidence 0.95, 1 undecodable byte(s) replaced)"  # 1 of 22

    search = subprocess.run([sys.executable, "-m", "cli.main", "search", "Deep help text", "--json"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert "Deep help text." in search.stdout
