"""Labelled questions learned as phrasings (``kb calibrate FILE``), and the fits that follow scoring each question
without the phrasing it became (fake embedder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from answering.fitting import Exclude
from core.meta_keys import MetaKey
from learning.labels import LabelsLearned
from retrieval.fusion_fit import Labelled, collect
from service.knowledge_base import KnowledgeBase
from tests.unit.answering.test_fitting import _kb_with_faq

LABELLED: list[tuple[str, list[str]]] = [
    ("money back after my return, how long", ["refund"]),
    ("refund still missing after two weeks", ["refund"]),
    ("password forgotten, reset help", ["password"]),
    ("How long does a refund take?", ["refund"]),  # the entry's own question: a duplicate
    ("weather tomorrow in Paris", []),  # to hand off
    ("card refused and wrong address", ["card", "address"]),  # several entries
    ("a question about a document", ["doc-7#2"]),  # not an entry
    ("please cancel what I ordered", ["cancel"]),  # the entry is retired below
]


def _learned_texts(kb: KnowledgeBase, entry_id: str) -> list[str]:
    return [d["text"] for d in kb.curator.writer.state(entry_id)[1]]


def test_labelled_questions_become_phrasings_of_their_one_entry(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    _kb_with_faq(fake_kb, tmp_path)
    fake_kb.curator.retire("cancel", "eve")
    generation = fake_kb.store.meta.get(MetaKey.generation)
    out = fake_kb.learn_labelled(LABELLED, "labels:unit", "eve")
    assert out == LabelsLearned(learned=3, entries=2, skipped={
        "rejected_duplicate": 1, "to_hand_off": 1, "several_entries": 1, "not_an_entry": 1, "retired_entry": 1})
    assert out.summary() == ("learned 3 labelled question(s) as phrasings of 2 entries (not learned: 1 not an "
                             "entry, 1 rejected duplicate, 1 retired entry, 1 several entries, 1 to hand off)")
    assert _learned_texts(fake_kb, "refund") == ["money back after my return, how long",
                                                 "refund still missing after two weeks"]
    assert _learned_texts(fake_kb, "password") == ["password forgotten, reset help"]
    assert _learned_texts(fake_kb, "card") == [] and _learned_texts(fake_kb, "cancel") == []
    assert fake_kb.store.meta.get(MetaKey.generation) != generation  # every replica's answer cache moves on
    # one new version per entry, by the caller, which a rollback takes back
    last = fake_kb.store.entries.versions("refund")[-1]
    assert last.actor == "eve" and last.provenance == "learned"
    # learning the same file again adds nothing
    again = fake_kb.learn_labelled(LABELLED, "labels:unit", "eve")
    assert again.learned == 0 and again.skipped["rejected_duplicate"] == 4


def test_calibrate_with_a_file_scores_each_question_without_its_learned_phrasing(
        fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    _kb_with_faq(fake_kb, tmp_path)
    off_topic = ["weather in Paris", "a pizza recipe", "who won the match", "tell me a joke", "best hiking trails",
                 "how tall is Everest", "a poem about cats", "stock price today"]
    labelled = [(q, g) for q, g in LABELLED[:3]] + [(q, []) for q in off_topic]
    fitter = fake_kb.fitter
    vectors = fake_kb.embedder.embed_queries([q for q, _ in labelled])
    before = [fitter.hits(q, v)[0].features["dense_q"] for (q, _), v in zip(labelled, vectors, strict=True)]
    fake_kb.learn_labelled(labelled, "labels:unit")
    seen: list[list[Exclude | None] | None] = []
    score_rows = fitter.score_rows

    def spy(questions: Any, excludes: Any = None, *args: Any) -> Any:
        seen.append(list(excludes) if excludes is not None else None)
        return score_rows(questions, excludes, *args)

    fitter.score_rows = spy  # type: ignore[method-assign]
    fake_kb.fit_calibration(labelled, fitted_on="unit")
    (excludes,) = seen
    assert excludes is not None and len(excludes) == len(labelled)
    # each question's ranking leaves out the phrasing it became, and only that one
    learned = {"source": "learned", "text": "refund still missing after two weeks"}
    assert [bool(ex and ex(learned)) for ex in excludes] == [False, True] + [False] * 9
    held = [fitter.hits(q, v, ex)[0].features["dense_q"]
            for (q, _), v, ex in zip(labelled, vectors, excludes, strict=True)]
    leaked = [fitter.hits(q, v)[0].features["dense_q"] for (q, _), v in zip(labelled, vectors, strict=True)]
    assert [round(x, 4) for x in leaked[:3]] == [1.0, 1.0, 1.0]
    assert [round(x, 4) for x in held] == [round(x, 4) for x in before]


def test_fusion_fit_leaves_out_the_phrasings_learned_from_its_questions(fake_kb: KnowledgeBase,
                                                                        tmp_path: Path) -> None:
    _kb_with_faq(fake_kb, tmp_path)
    question = "money back after my return, how long"
    fake_kb.learn_labelled([(question, ["refund"])], "labels:unit")
    item = [Labelled(question=question, gold=frozenset({"refund"}))]
    (plain, _), = collect(fake_kb.searcher, item)
    (held, _), = collect(fake_kb.searcher, item, fake_kb.fitter.learned_from)
    top = max(plain, key=lambda c: c.features["dense"])
    assert round(top.features["dense"], 4) == 1.0
    assert max(c.features["dense"] for c in held) < 0.999
