"""``kb eval`` end to end (fake embedder): three report files, the compare gate, and the evaluator
answering exactly as the API does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from eval.run import evaluate, load_rows
from service.knowledge_base import KnowledgeBase
from tests.api_client import client_for

FAQ = [{"id": "pw", "question": "How do I reset my password?", "answer": "Tap Forgot password.", "lang": "en",
        "category": "account"},
       {"id": "ship", "question": "Do you ship to Canada?", "answer": "Yes, 7-14 days.", "lang": "en",
        "category": "shipping"},
       {"id": "inv", "question": "怎么开发票", "answer": "在订单页申请发票。", "lang": "zh", "category": "invoice"}]
EVAL = [{"question": "reset password", "gold_ids": ["pw"], "lang": "en", "team": "account", "emotion": "neutral",
         "reference_answer": "Tap Forgot password.", "split": "test"},
        {"question": "ship to canada?", "gold_ids": ["ship"], "lang": "en", "team": "logistics",
         "emotion": "neutral", "split": "test"},
        {"question": "发票怎么开", "gold_ids": ["inv"], "lang": "zh", "team": "billing", "emotion": "neutral",
         "reference_answer": "在订单页申请发票。", "split": "test"},
        {"question": "This is ridiculous!! where is my refund NOW", "gold_ids": [], "lang": "en",
         "team": "billing", "emotion": "angry", "split": "test"},
        {"question": "what is the weather", "gold_ids": [], "lang": "en", "team": "general", "emotion": "neutral",
         "split": "test"}]


def setup(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    faq, ev = tmp_path / "faq.jsonl", tmp_path / "eval.jsonl"
    faq.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in FAQ), encoding="utf-8")
    ev.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in EVAL), encoding="utf-8")
    env = {**os.environ, "KB_HOME": str(tmp_path / "kb"), "KB_EMBEDDER": "fake", "KB_ENGLISH_EMBEDDER": "none"}
    return faq, ev, env


def kb_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env)


def test_kb_eval_writes_reports_and_compare_gates(tmp_path: Path) -> None:
    faq, ev, env = setup(tmp_path)
    assert kb_cli(env, "ingest", str(faq)).returncode == 0
    r = kb_cli(env, "eval", str(ev), "--out", str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "a" / "report.json").read_text(encoding="utf-8"))
    assert set(report["metrics"]) >= {"retrieval", "decisions", "routing", "emotion", "latency_ms", "ragas"}
    assert report["provenance"]["eval_sha256"] and report["provenance"]["manifest"]["embedding_model"]
    html = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 4 and "<table>" in html
    assert "## Retrieval" in (tmp_path / "a" / "report.md").read_text(encoding="utf-8")

    assert kb_cli(env, "eval", "compare", str(tmp_path / "a"), str(tmp_path / "a")).returncode == 0
    worse = json.loads(json.dumps(report))
    worse["metrics"]["retrieval"]["hybrid"]["hit@1"] -= 0.2
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "report.json").write_text(json.dumps(worse), encoding="utf-8")
    r = kb_cli(env, "eval", "compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert r.returncode == 1 and "regressed" in r.stdout and "retrieval.hybrid.hit@1" in r.stdout


def test_evaluator_answers_like_the_api(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    faq, ev, _ = setup(tmp_path)
    fake_kb.ingest([faq])
    result = evaluate(fake_kb, load_rows(ev), ev)
    with client_for(fake_kb) as client:
        for record in result["records"]:
            api = client.post("/v1/ask", json={"question": record["question"]}).json()
            assert (api["decision"], api["answer"], api["confidence"]) == (
                record["decision"], record["answer"], record["confidence"])
