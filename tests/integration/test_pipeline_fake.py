"""Ingest -> index -> search/ask through the service, with the fake embedder (fast; the logic is the subject)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from answering.calibration import SIGNALS, Calibration
from answering.records import Question
from core.errors import BadInput, IndexMismatch
from core.models import Filters
from core.settings import Settings
from retrieval.embed import FakeEmbedder
from service.knowledge_base import KnowledgeBase

ALWAYS = Calibration(coef=tuple(0.0 for _ in SIGNALS), intercept=10.0, answer_threshold=0.5,
                     target_precision=0.9)

FAQ = [
    {"id": "r1", "question": "退货需要多长时间", "answer": "收到退货后3个工作日内退款。", "category": "returns",
     "lang": "zh", "alt_questions": ["退款多久到账"]},
    {"id": "r2", "question": "How do I reset my password?", "answer": "Tap Forgot password on the login page.",
     "category": "account", "lang": "en", "tags": ["login"]},
    {"question": "Do you ship to Canada?", "answer": "Yes, international shipping takes 7-14 days.",
     "category": "shipping"},
]


def write_faq(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def counts(kb: KnowledgeBase) -> tuple[int, int, int]:
    c = kb.store.counts()
    return c["entries"], c["units"], kb.index.count()


def test_ingest_is_idempotent_and_updates_in_place(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    faq = write_faq(tmp_path / "faq.jsonl", FAQ)
    first = fake_kb.ingest([faq])
    assert (first.added, first.entries, first.units_added) == (1, 3, 7)  # 4 phrasings + 3 answers
    assert counts(fake_kb) == (3, 7, 7)
    ids_before = fake_kb.index.unit_ids()

    again = fake_kb.ingest([faq])
    assert (again.unchanged, again.units_added, again.units_removed) == (1, 0, 0)
    assert counts(fake_kb) == (3, 7, 7) and fake_kb.index.unit_ids() == ids_before

    changed = [dict(FAQ[0], answer="收到退货后5个工作日内退款。"), *FAQ[1:]]
    write_faq(faq, changed)
    update = fake_kb.ingest([faq])
    assert (update.updated, update.units_added, update.units_removed) == (1, 1, 1)  # only the answer unit
    assert counts(fake_kb) == (3, 7, 7)
    entry = fake_kb.store.entries.get("r1")
    assert entry is not None and entry.answer == "收到退货后5个工作日内退款。"


def test_supplied_ids_are_kept_and_derived_ids_are_stable(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    fake_kb.ingest([write_faq(tmp_path / "faq.jsonl", FAQ)])
    ids = [e.id for e in fake_kb.store.entries.all()]
    assert "r1" in ids and "r2" in ids
    derived = [i for i in ids if i.startswith("faq-")]
    assert len(derived) == 1
    hits = fake_kb.search("How do I reset my password?", top_k=3)
    assert hits[0].entry_id == "r2"


def test_bad_records_are_quarantined_not_dropped(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    path.write_text(json.dumps(FAQ[1]) + "\n{not json\n" + json.dumps({"question": "no answer"}) + "\n",
                    encoding="utf-8")
    report = fake_kb.ingest([path])
    assert report.entries == 1
    reasons = sorted((q.location, q.reason.split(":")[0]) for q in report.quarantined)
    assert reasons == [("line 2", "invalid JSON"), ("line 3", "missing answer")]
    assert (fake_kb.settings.home / "quarantine.jsonl").read_text(encoding="utf-8").count("\n") == 2


def test_prune_removes_deleted_sources(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_faq(folder / "a.jsonl", FAQ[:1])
    (folder / "guide.md").write_text("# Guide\n\n## Wi-Fi\n\nHold the button for 5 seconds.\n", encoding="utf-8")
    fake_kb.ingest([folder])
    assert fake_kb.store.counts()["sources"] == 2
    (folder / "guide.md").unlink()
    report = fake_kb.ingest([folder], prune=True)
    assert report.removed == 1
    assert fake_kb.store.counts()["documents"] == 0
    assert all(not u.startswith("doc-guide") for u in fake_kb.index.unit_ids())


def test_filters_apply_inside_the_index(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    fake_kb.ingest([write_faq(tmp_path / "faq.jsonl", FAQ)])
    hits = fake_kb.search("password", top_k=5, filters=Filters(lang="zh"))
    assert hits and all(h.metadata["lang"] == "zh" for h in hits)
    hits = fake_kb.search("password", top_k=5, filters=Filters(tags=["login"]))
    assert [h.entry_id for h in hits] == ["r2"]


def test_documents_are_chunked_and_cited(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    doc = tmp_path / "lock.md"
    doc.write_text("---\nid: doc-lock\ntitle: Lock guide\nlang: en\ncategory: setup\n---\n# Lock guide\n\n"
                   "## Batteries\n\nThe SmartLock uses four AA batteries. Replace them when the LED blinks red.\n\n"
                   "## Fingerprints\n\nYou can enrol up to 100 fingerprints in the app.\n", encoding="utf-8")
    fake_kb.ingest([doc])
    hits = fake_kb.search("how many fingerprints can I enrol", top_k=3)
    assert hits[0].doc_id == "doc-lock" and hits[0].section is not None and "Fingerprints" in hits[0].section
    fake_kb.calibration = ALWAYS  # the decision is not the subject: what is cited is
    response = fake_kb.ask(Question(question="how many fingerprints can I enrol"))
    assert (response.decision, response.answer_source) == ("answer", "extract")
    cite = response.citations[0]
    assert (cite.doc_id, cite.chunk_id, cite.title) == ("doc-lock", hits[0].chunk_id, "Lock guide")
    assert cite.section is not None and "Fingerprints" in cite.section
    assert response.answer is not None and "100 fingerprints" in response.answer
    assert cite.char_start is not None and hits[0].text[cite.char_start : cite.char_end] == cite.snippet


def test_model_mismatch_is_a_clear_error(fake_settings: Settings, tmp_path: Path) -> None:
    kb = KnowledgeBase.open(fake_settings)
    kb.ingest([write_faq(tmp_path / "faq.jsonl", FAQ)])
    kb.close()
    expected = "embedding_model: index has 'fake-trigram-64', configured 'fake-trigram-32'"
    with pytest.raises(IndexMismatch, match=expected):
        KnowledgeBase.open(fake_settings, embedder=FakeEmbedder(dim=32))


def test_reindex_rebuilds_from_the_record(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    fake_kb.ingest([write_faq(tmp_path / "faq.jsonl", FAQ)])
    before = fake_kb.index.unit_ids()
    fake_kb.index.clear()
    assert fake_kb.index.count() == 0
    assert fake_kb.reindex() == 7
    assert fake_kb.index.unit_ids() == before


def test_empty_and_bad_queries(fake_kb: KnowledgeBase) -> None:
    with pytest.raises(BadInput):
        fake_kb.search("   ")
    with pytest.raises(BadInput):
        fake_kb.search("x", top_k=0)


def test_fusion_and_calibration_persist_with_the_knowledge_base(fake_settings: Settings, tmp_path: Path) -> None:
    from retrieval.fusion import RRFFusion

    kb = KnowledgeBase.open(fake_settings)
    kb.ingest([write_faq(tmp_path / "faq.jsonl", FAQ)])
    questions = [(r["question"], [r.get("id") or ""]) for r in FAQ] * 4 + [("weather in Paris?", [])] * 4
    cal = kb.fit_calibration(questions, fitted_on="unit")
    kb.set_fusion(RRFFusion(k=30, dense_weight=1.0, bm25_weight=0.5))
    kb.close()
    again = KnowledgeBase.open(fake_settings)
    assert again.calibration == cal and again.calibration.fitted_on == "unit"
    assert again.searcher.fusion == RRFFusion(k=30, dense_weight=1.0, bm25_weight=0.5)
    assert again.stats()["calibration"]["answer_threshold"] == cal.answer_threshold
    again.close()


def test_ask_carries_route_and_emotion_and_escalation_hands_off(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    rows = [dict(r, team=t) for r, t in zip(FAQ, ["after_sales", "account", "logistics"], strict=True)]
    faq = write_faq(tmp_path / "faq.jsonl", rows)
    fake_kb.ingest([faq])
    clf = fake_kb.train_router(faq, "question", "team")
    assert clf.version == 1 and (fake_kb.settings.home / "models" / "router" / "model.joblib").is_file()
    assert fake_kb.train_router(faq, "question", "team").version == 2
    calm = fake_kb.ask(Question(question="How do I reset my password?", customer={"tier": "standard"}))
    assert calm.route is not None and calm.emotion is not None and not calm.emotion.escalate
    angry = fake_kb.ask(Question(question="This is ridiculous!! I want my money back NOW, reset my password"))
    assert angry.emotion is not None and angry.emotion.escalate
    assert angry.decision == "handoff" and angry.route is not None and angry.route.team == "priority"
    with pytest.raises(BadInput, match="missing column"):
        fake_kb.train_router(faq, "question", "queue")
