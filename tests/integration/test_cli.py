"""The ``kb`` command end to end (fake embedder): exit codes, --json output, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def kb(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KB_HOME": str(home), "KB_EMBEDDER": "fake"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env)


def test_cli_ingest_search_ask_stats(tmp_path: Path) -> None:
    faq = tmp_path / "faq.csv"
    faq.write_text("id,question,answer,alt_questions,lang\n"
                   "inv-1,怎么开发票,在订单详情页点击申请发票。,发票怎么开|能开专票吗,zh\n"
                   "bad-1,,no question,,en\n", encoding="utf-8")
    home = tmp_path / "kb"
    r = kb(home, "ingest", str(faq), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["entries"] == 1 and report["quarantined"][0]["reason"] == "missing question"

    r = kb(home, "search", "怎么开发票", "--json", "--filter", "lang=zh")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["entry_id"] == "inv-1"

    r = kb(home, "ask", "怎么开发票", "--json")
    assert r.returncode == 0, r.stderr
    assert set(json.loads(r.stdout)) >= {"answer", "decision", "confidence", "citations", "related", "request_id"}

    r = kb(home, "stats", "--json")
    assert json.loads(r.stdout)["entries"] == 1


def test_cli_errors_have_messages_and_codes(tmp_path: Path) -> None:
    r = kb(tmp_path / "kb", "ingest", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "no such file or folder" in r.stderr
    r = kb(tmp_path / "kb", "search", "x", "--filter", "colour=red")
    assert r.returncode == 2 and "unknown filter 'colour'" in r.stderr


def test_cli_fit_fusion_and_calibrate(tmp_path: Path) -> None:
    from tests.conftest import SAMPLE

    home = tmp_path / "kb"
    assert kb(home, "ingest", str(SAMPLE / "faq.jsonl")).returncode == 0
    r = kb(home, "fit-fusion", str(SAMPLE / "eval.jsonl"))
    assert r.returncode == 0 and r.stdout.startswith("fusion fitted on ")
    r = kb(home, "calibrate", str(SAMPLE / "eval.jsonl"))
    assert r.returncode == 0 and "answer threshold" in r.stdout
    stats = json.loads(kb(home, "stats", "--json").stdout)
    assert stats["fusion"]["kind"] in {"rrf", "linear"} and stats["calibration"]["n"] == 99
    r = kb(home, "calibrate", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "no such evaluation file" in r.stderr
