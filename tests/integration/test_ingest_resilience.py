"""No record can fail a run: each stage's failure quarantines that record, and the rest lands; phrasings that
differ only in full-width/half-width characters are one unit; a text is embedded once per run; questions
are committed before answers; an interrupted run is finished by embedding only what is missing."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.exc import IntegrityError

import ingest.writer
from core.models import KnowledgeEntry, Unit
from core.settings import Settings
from ingest.units import entry_units
from service.knowledge_base import KnowledgeBase


class Counting:
    """Wraps the fake embedder: counts the texts it embeds, fails on a marker, can stop after N texts."""

    def __init__(self, inner: object, fail_on: str = "", stop_after: int | None = None) -> None:
        self.inner, self.fail_on, self.stop_after = inner, fail_on, stop_after
        self.texts: list[str] = []
        self.model_id = getattr(inner, "model_id", "fake")
        self.on_passages: list[object] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def _take(self, texts: Sequence[str]) -> None:
        if self.fail_on and any(self.fail_on in t for t in texts):
            raise ValueError(f"cannot embed a text with {self.fail_on}")
        if self.stop_after is not None and len(self.texts) + len(texts) > self.stop_after:
            raise Killed
        self.texts += list(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self._take(texts)
        return self.inner.embed_queries(texts)  # type: ignore[attr-defined,no-any-return]

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        for hook in self.on_passages:
            hook()  # type: ignore[operator]
        self._take(texts)
        return self.inner.embed_passages(texts)  # type: ignore[attr-defined,no-any-return]


class Killed(BaseException):  # stands for kill -9: nothing may catch it
    """Stops a run the way a kill does: no except Exception catches it."""


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    base = KnowledgeBase.open(Settings(home=tmp_path / "kb", embedder="fake", english_embedder="none"))
    yield base
    base.close()


def faq(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


TOPICS = ["reset the hub", "pair a door lock", "change my password", "get a refund", "update firmware",
          "cancel a subscription"]
ROWS = [{"id": f"e{i}", "question": f"How can I {topic}?", "answer": f"To {topic}, open the app: step {i}."}
        for i, topic in enumerate(TOPICS)]


def reasons(report: object) -> list[tuple[str, str]]:
    return sorted((q.location, q.reason.split(":")[0]) for q in report.quarantined)  # type: ignore[attr-defined]


def test_full_width_and_half_width_phrasings_are_one_unit(kb: KnowledgeBase, tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [{"id": "r1", "question": "退款多久到账？", "answer": "退款在3到5个工作日内到账。",
             "alt_questions": ["退款多久到账?", "ＡＢＣ退款", "ABC退款"]},
            {"id": "r2", "question": "退款多久到账?", "answer": "退款在3到5个工作日内到账。"}]
    entry = KnowledgeEntry(id="x", question="退款？", answer="a", alt_questions=("退款?", "退款 ?"))
    assert [u.text for u in entry_units(entry) if u.kind == "question"] == ["退款？", "退款 ?"]
    report = kb.ingest([faq(tmp_path / "zh.jsonl", rows)])
    assert report.quarantined == [] and report.entries == 1 and report.merged_duplicates == 1
    assert kb.store.counts()["question_units"] == 2  # 退款多久到账？ and ＡＢＣ退款


def test_a_record_failing_at_each_stage_is_quarantined_and_the_rest_lands(
        kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [*ROWS, {"id": "poison", "question": "What is POISON?", "answer": "A marker the embedder refuses."}]
    real_units = ingest.writer.entry_units

    def units(entry: KnowledgeEntry) -> list[Unit]:
        if entry.id == "e1":
            raise RecursionError("maximum recursion depth exceeded")
        return real_units(entry)

    real_replace = kb.store.sources.replace

    def replace(uri: str, kind: str, digest: str, entries: Sequence[KnowledgeEntry], *args: object) -> None:
        if any(e.id == "e2" for e in entries):
            raise IntegrityError("INSERT INTO units", {}, Exception("UNIQUE constraint failed: units.id"))
        real_replace(uri, kind, digest, entries, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest.writer, "entry_units", units)
    monkeypatch.setattr(kb.store.sources, "replace", replace)
    kb.embedder = Counting(kb.embedder, fail_on="POISON")  # type: ignore[assignment]
    report = kb.ingest([faq(tmp_path / "faq.jsonl", rows)])
    assert reasons(report) == [("entry e1", "cannot make its units"), ("entry e2", "cannot be written"),
                               ("entry poison", "embedding failed")]
    assert report.entries == 4 and report.failed == 0
    assert "UNIQUE constraint failed" in next(q.reason for q in report.quarantined if q.location == "entry e2")
    assert sorted(kb.store.sources.entry_ids(str((tmp_path / "faq.jsonl").resolve()))) == ["e0", "e3", "e4", "e5"]
    assert {u.split(":")[0] for u in kb.index.unit_ids()} == {"e0", "e3", "e4", "e5"}


def test_a_chunk_failure_quarantines_its_document(kb: KnowledgeBase, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "good.md").write_text("# Good\n\nWorks fine.\n", encoding="utf-8")
    (tmp_path / "docs" / "bad.md").write_text("# Bad\n\nBreaks the chunker.\n", encoding="utf-8")
    real = ingest.writer.document_units

    def units(doc: object, *args: object) -> list[Unit]:
        if getattr(doc, "id", "") == "doc-bad":
            raise ValueError("chunker bug")
        return real(doc, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest.writer, "document_units", units)
    report = kb.ingest([tmp_path / "docs"])
    assert [(q.location, q.reason) for q in report.quarantined] == [
        ("document doc-bad", "cannot make its units: ValueError: chunker bug")]
    assert report.documents == 1 and kb.store.counts()["chunk_units"] == 1


def test_each_text_is_embedded_once_per_run(kb: KnowledgeBase, tmp_path: Path) -> None:
    shared = "How do I contact support?"
    rows = [{"id": f"s{i}", "question": f"Why can I not {topic}?", "answer": f"Check step {i} to {topic}.",
             "alt_questions": [shared]} for i, topic in enumerate(TOPICS)]
    counting = Counting(kb.embedder)
    kb.embedder = counting  # type: ignore[assignment]
    report = kb.ingest([faq(tmp_path / "a.jsonl", rows)])
    assert report.units_added == 18 and not report.quarantined
    assert counting.texts.count(shared) == 1 and len(counting.texts) == 13


def test_questions_are_committed_before_answers_are_embedded(kb: KnowledgeBase, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest.writer, "CHECKPOINT_UNITS", 4)  # 12 units: checkpointed in batches of 4
    seen: list[tuple[int, int]] = []
    counting = Counting(kb.embedder)
    counting.on_passages.append(lambda: seen.append((kb.store.counts()["entries"],
                                                     kb.store.counts()["question_units"])))
    kb.embedder = counting  # type: ignore[assignment]
    kb.ingest([faq(tmp_path / "faq.jsonl", ROWS)])
    assert seen[0] == (6, 6)
    assert kb.store.sources.content_hash(str((tmp_path / "faq.jsonl").resolve())) is not None


def test_an_interrupted_run_keeps_its_checkpoints_and_the_rerun_embeds_only_the_rest(
        kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest.writer, "CHECKPOINT_UNITS", 100)
    rows = [{"id": f"b{i}", "question": f"Is code {i:03d}{i * 7919 % 1000:03d} valid?", "answer": f"Code {i} is fine."}
            for i in range(300)]
    path = faq(tmp_path / "big.jsonl", rows)
    clean = KnowledgeBase.open(Settings(home=tmp_path / "clean", embedder="fake", english_embedder="none"))
    clean.ingest([path])
    expected = (clean.store.counts(), clean.index.unit_ids())
    clean.close()

    kb.embedder = Counting(kb.embedder, stop_after=450)  # type: ignore[assignment]
    with pytest.raises(Killed):
        kb.ingest([path])
    kept = kb.store.counts()
    assert (kept["question_units"], kept["answer_units"], kept["entries"]) == (300, 100, 300)
    counting = Counting(kb.embedder.inner)  # type: ignore[attr-defined]
    kb.embedder = counting  # type: ignore[assignment]
    kb.ingest([path])
    assert expected[0]["units"] == 600 and len(counting.texts) == 200
    assert (kb.store.counts(), kb.index.unit_ids()) == expected


def test_a_bulk_ingest_ends_with_the_index_optimize(kb: KnowledgeBase, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import ingest.pipeline

    calls: list[int] = []
    monkeypatch.setattr(kb.index, "optimize", lambda: calls.append(1), raising=False)
    monkeypatch.setattr(ingest.pipeline, "OPTIMIZE_AFTER_UNITS", 12)
    kb.ingest([faq(tmp_path / "small.jsonl", ROWS[:5])])  # 10 units: below the threshold
    kb.ingest([faq(tmp_path / "faq.jsonl", [{**r, "id": f"n{r['id']}"} for r in ROWS])])  # 12 units
    assert calls == [1]


def test_the_english_embedder_failing_costs_only_its_own_vectors(tmp_path: Path) -> None:
    """English units get the English embedder's vector, Chinese ones do not; when it fails on a batch, the batch
    is indexed without it (the multilingual vector and BM25 still find it) and nothing is quarantined."""
    from retrieval.embed import FakeEmbedder
    from retrieval.index_paired import PairedIndex

    entries = [{"id": "en", "question": "How do I reset my password?", "answer": "Use the reset link."},
               {"id": "zh", "question": "退货需要多长时间", "answer": "三个工作日。"}]
    poison = [{"id": "p", "question": "What is the poison policy?", "answer": "There is none."}]
    english = Counting(FakeEmbedder(dim=32), fail_on="poison")
    kb = KnowledgeBase.open(Settings(home=tmp_path / "kb", embedder="fake", english_embedder="fake"), english=english)
    try:
        assert isinstance(kb.index, PairedIndex)
        kb.ingest([faq(tmp_path / "a.jsonl", entries)])
        assert kb.index.count() == 4 and kb.index.english_count() == 2  # the English entry's question and answer
        report = kb.ingest([faq(tmp_path / "b.jsonl", poison)])
        assert report.quarantined == [] and report.entries == 1
        assert kb.index.count() == 6 and kb.index.english_count() == 2
        assert kb.search("What is the poison policy?", 1)[0].entry_id == "p"
    finally:
        kb.close()
