"""kill -9 in the middle of an ingest, run again: the same entries, chunks and ids as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from core.settings import Settings
from service.knowledge_base import KnowledgeBase


def make_corpus(folder: Path, files: int = 60) -> None:
    folder.mkdir()
    for i in range(files):
        rows = [{"id": f"e{i}-{j}", "question": f"Question {j} about product {i} and its setup steps?",
                 "answer": f"Answer {j} for product {i}: open the app, tap settings, then pair device {i}."}
                for j in range(8)]
        (folder / f"faq{i:03d}.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
        (folder / f"guide{i:03d}.md").write_text(
            f"# Guide {i}\n\n## Install\n\n" + " ".join(f"Step {k} of guide {i} explains wiring." for k in range(40)),
            encoding="utf-8")


def snapshot(home: Path) -> tuple[dict[str, int], set[str]]:
    kb = KnowledgeBase.open(Settings(home=home, embedder="fake", english_embedder="none"))
    try:
        return kb.store.counts(), kb.index.unit_ids()
    finally:
        kb.close()


def test_kill_9_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    make_corpus(corpus)
    env = {**os.environ, "KB_EMBEDDER": "fake", "KB_ENGLISH_EMBEDDER": "none"}
    cmd = [sys.executable, "-m", "cli.main", "ingest", str(corpus)]

    clean_home = tmp_path / "clean"
    subprocess.run(cmd, env={**env, "KB_HOME": str(clean_home)}, check=True, capture_output=True)

    home = tmp_path / "interrupted"
    proc = subprocess.Popen(cmd, env={**env, "KB_HOME": str(home)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    db = home / "kb.sqlite3"
    deadline = time.time() + 60
    killed_after = -1
    while time.time() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(db, timeout=0.1) as con:
                killed_after = con.execute("select count(*) from sources").fetchone()[0]
        except sqlite3.Error:
            killed_after = -1
        if killed_after >= 10:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "ingest finished before it could be interrupted"
    assert 10 <= killed_after < 120

    again = subprocess.run(cmd, env={**env, "KB_HOME": str(home)}, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert snapshot(home) == snapshot(clean_home)


def test_kill_9_in_the_middle_of_a_large_file_keeps_its_checkpoints(tmp_path: Path) -> None:
    """Checkpoints every 256 units: after a kill inside one large file, the re-run embeds only the units no
    checkpoint recorded, and ends where a clean run ends."""
    corpus = tmp_path / "big"
    corpus.mkdir()
    rows = [{"id": f"b{i}", "question": f"Is serial {i:05d}-{i * 7919 % 100000:05d} covered by the warranty?",
             "answer": f"Serial {i} is covered until {2026 + i % 5}; keep the receipt {i * 31 % 9973}."}
            for i in range(3000)]
    (corpus / "big.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    env = {**os.environ, "KB_EMBEDDER": "fake", "KB_ENGLISH_EMBEDDER": "none"}
    cmd = [sys.executable, "-m", "cli.main", "ingest", str(corpus), "--json"]
    clean_home = tmp_path / "clean"
    clean = subprocess.run(cmd, env={**env, "KB_HOME": str(clean_home)}, check=True, capture_output=True)
    total = json.loads(clean.stdout)["units_added"]  # two units per entry, less near-duplicates merged

    home = tmp_path / "interrupted"
    proc = subprocess.Popen(cmd, env={**env, "KB_HOME": str(home)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    db = home / "kb.sqlite3"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(db, timeout=0.1) as con:
                units = con.execute("select count(*) from units").fetchone()[0]
        except sqlite3.Error:
            units = 0
        if units >= 1024:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "ingest finished before it could be interrupted"
    with sqlite3.connect(db) as con:
        kept = con.execute("select count(*) from units").fetchone()[0]
        hashes = [h for (h,) in con.execute("select content_hash from sources")]
    assert 1024 <= kept < total and all(h.startswith("partial:") for h in hashes)

    again = subprocess.run(cmd, env={**env, "KB_HOME": str(home)}, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["units_added"] == total - kept
    assert snapshot(home) == snapshot(clean_home)
