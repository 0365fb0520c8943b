"""The sample corpus with the real packaged embedder: retrieval quality floors and the demo questions."""

from __future__ import annotations

import json

import pytest

from answering.records import Question
from core.models import Filters
from retrieval.llama_adapter import make_llama_retriever
from retrieval.metrics import summarize
from service.knowledge_base import KnowledgeBase
from tests.conftest import SAMPLE

pytestmark = pytest.mark.integration


def eval_rows(split: str) -> list[dict]:
    rows = [json.loads(line) for line in (SAMPLE / "eval.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if r.get("split") == split]


def test_sample_corpus_counts(sample_kb: KnowledgeBase) -> None:
    counts = sample_kb.store.counts()
    assert counts["entries"] >= 150 and counts["documents"] >= 30
    assert sample_kb.index.count() == counts["units"]


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_retrieval_floor_on_test_split(sample_kb: KnowledgeBase, mode: str) -> None:
    rows = [r for r in eval_rows("test") if r["gold_ids"]]
    runs = [([h.target_id for h in sample_kb.search(r["question"], 10, mode=mode)], set(r["gold_ids"])) for r in rows]
    metrics = summarize(runs)
    # hit@5 floors a few points under the figures measured with the package default fusion (dense 0.919,
    # bm25 0.925, hybrid 0.965 on these 173 questions): a ranking change that costs more fails here
    floors = {"dense": 0.89, "bm25": 0.89, "hybrid": 0.94}
    assert metrics["hit@5"] >= floors[mode], metrics


def test_language_filter(sample_kb: KnowledgeBase) -> None:
    hits = sample_kb.search("退款多久到账", 5, Filters(lang="en"))
    assert hits and all(h.metadata["lang"] == "en" for h in hits)


def test_llama_index_adapter(sample_kb: KnowledgeBase) -> None:
    retriever = make_llama_retriever(sample_kb.searcher, top_k=3)
    nodes = retriever.retrieve("how do I reset my password")
    assert len(nodes) == 3 and nodes[0].node.get_content()
    assert nodes[0].node.metadata.get("entry_id") or nodes[0].node.metadata.get("doc_id")


def test_gaps_on_the_unanswerable_questions(sample_kb: KnowledgeBase) -> None:
    rows = [r for r in eval_rows("test") + eval_rows("dev") if r["expected_decision"] == "handoff"]
    asked = [sample_kb.ask(Question(question=r["question"])) for r in rows]
    for r in rows[:3]:  # the same gap asked again, reworded
        sample_kb.ask(Question(question=r["question"] + "?"))
    clusters = sample_kb.gaps(days=1, max_confidence=0.5)
    not_answered = sum(1 for a in asked if a.decision != "answer" or a.confidence < 0.5) + 3
    assert sum(c["count"] for c in clusters) <= not_answered
    assert clusters[0]["count"] >= 2 and clusters == sorted(clusters, key=lambda c: -c["count"])


def test_answers_cite_the_right_entry(sample_kb: KnowledgeBase) -> None:
    """Direct answers on the test split cite a gold entry or document most of the time (the benchmark
    measures about 0.9 precision; this guards against a decision or citation path that breaks). Last in
    the file: the gaps test counts every ask logged before it."""
    answered = right = 0
    for row in eval_rows("test")[:60]:
        r = sample_kb.ask(Question(question=row["question"]))
        if r.decision == "answer":
            assert r.answer and r.citations
            answered += 1
            cited = r.citations[0].entry_id or r.citations[0].doc_id
            right += cited in set(row["gold_ids"])
    assert answered >= 15 and right / answered >= 0.75, (answered, right)
