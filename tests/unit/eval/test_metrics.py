"""Evaluation metrics against hand-computed values."""

from __future__ import annotations

import copy
import math

import pytest

from eval import metrics as m
from eval.report import compare, markdown
from retrieval.tokenize import Tokenizer


def test_ranking_metrics_by_hand() -> None:
    ranked, gold = ["a", "b", "a", "c", "d"], {"c", "x"}
    assert m.recall_at(ranked, gold, 2) == 0.0 and m.recall_at(ranked, gold, 3) == 0.5  # deduped: a b c d
    # c at deduped rank 3: DCG = 1/log2(4) = 0.5; ideal for 2 relevant = 1 + 1/log2(3)
    assert m.ndcg_at(ranked, gold, 10) == pytest.approx(0.5 / (1 + 1 / math.log2(3)))
    out = m.ranking_metrics([(["a", "b"], {"a"}), (["b", "a"], {"a"})])
    assert out["hit@1"] == 0.5 and out["mrr@10"] == 0.75 and out["n"] == 2


def test_coverage_precision_curve() -> None:
    curve = m.coverage_precision_curve([0.9, 0.8, 0.8, 0.1], [True, False, True, False])
    assert curve == [(0.9, 0.25, 1.0), (0.8, 0.75, 2 / 3), (0.1, 1.0, 0.5)]


def test_classification_and_binary() -> None:
    out = m.classification_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert out["accuracy"] == 0.75 and out["confusion"] == [[1, 1], [0, 2]]
    # F1(a) = 2*1/(2+0+1) = 2/3, F1(b) = 2*2/(4+1+0) = 4/5
    assert out["macro_f1"] == round((2 / 3 + 4 / 5) / 2, 4)
    assert m.binary_metrics([True, True, False], [True, False, True]) == {"precision": 0.5, "recall": 0.5, "f1": 0.5}


def test_rouge_l_english_and_chinese() -> None:
    # LCS("the cat sat", "the cat") = 2: P = 1, R = 2/3, F = 0.8
    assert m.rouge_l(["the", "cat", "sat"], ["the", "cat"]) == pytest.approx(0.8)
    tok = Tokenizer()
    ref = tok.segment("退款在3个工作日内到账")
    cand = tok.segment("退款3个工作日到账")
    assert ref == ["退款", "在", "3", "个", "工作日内", "到", "账"]
    assert cand == ["退款", "3", "个", "工作日", "到", "账"]
    # LCS = 退款 3 个 到 账 = 5: P = 5/6, R = 5/7
    p, r = 5 / 6, 5 / 7
    assert m.rouge_l(ref, cand) == pytest.approx(2 * p * r / (p + r))
    # on raw strings split by whitespace the Chinese is one token each: no overlap at all
    assert m.rouge_l(["退款在3个工作日内到账"], ["退款3个工作日到账"]) == 0.0
    assert m.rouge_l(ref, []) == 0.0


def test_chrf_identical_and_disjoint() -> None:
    assert m.chrf("退款三天", "退款三天") == pytest.approx(1.0)
    assert m.chrf("abc", "xyz") == 0.0


def test_percentiles() -> None:
    assert m.percentiles([1.0, 2.0, 3.0, 4.0]) == {"p50": 2.5, "p95": 3.85, "p99": 3.97, "n": 4}


REPORT = {
    "provenance": {"eval_file": "x.jsonl", "commit": "abc", "date": "d", "eval_sha256": "0",
                   "manifest": {"embedding_model": "m"}},
    "metrics": {
        "retrieval": {"hybrid": {"hit@1": 0.8, "hit@5": 0.95, "recall@10": 0.97, "mrr@10": 0.87, "ndcg@10": 0.9}},
        "retrieval_by_lang": {"en": {"hit@1": 0.8, "mrr@10": 0.87, "n": 3}},
        "decisions": {"coverage": 0.6, "coverage_of_answerable": 0.7, "precision": 0.9,
                      "handoff_recall_unanswerable": 0.9, "clarify_rate": 0.0, "n": 10, "curve": []},
        "latency_ms": {"total": {"p50": 10.0, "p95": 20.0, "p99": 30.0, "n": 10}},
    },
}


def test_compare_fails_on_a_planted_regression() -> None:
    worse = copy.deepcopy(REPORT)
    worse["metrics"]["decisions"]["precision"] = 0.85
    rows, regressed = compare(REPORT, worse, tolerance=0.01)
    assert regressed
    assert {"metric": "decisions.precision", "before": 0.9, "after": 0.85, "delta": -0.05,
            "status": "regressed"} in rows
    same, regressed = compare(REPORT, copy.deepcopy(REPORT))
    assert not regressed and all(r["status"] == "same" for r in same)


def test_markdown_report_has_the_tables() -> None:
    md = markdown(REPORT)
    assert "| hybrid | 0.8 | 0.95 | 0.97 | 0.87 | 0.9 |" in md and "## Decisions" in md
