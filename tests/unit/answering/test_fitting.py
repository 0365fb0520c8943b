"""Fitting on a live knowledge base (fake embedder): --auto with no labels, the refit without leakage, and the
clarify probability checked on held-back questions."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from answering.calibration import SIGNALS, fit_calibration
from answering.fitting import learned_from_question, near_duplicate, ood_questions
from answering.records import Question
from core.meta_keys import MetaKey
from service.knowledge_base import KnowledgeBase

TOPICS = [
    ("refund", "How long does a refund take?", ["When will I get my money back", "refund timing after a return"]),
    ("password", "How do I reset my password?", ["I forgot my password", "cannot log in, need a new password"]),
    ("shipping", "Do you ship to Canada?", ["international delivery to Canada", "can you send orders abroad"]),
    ("card", "My card was declined", ["why was my card payment refused", "card not accepted at checkout"]),
    ("address", "How do I change my delivery address?", ["update shipping address", "wrong address on order"]),
    ("cancel", "How do I cancel my order?", ["stop my order before it ships", "cancel a purchase I just made"]),
    ("invoice", "Where can I download my invoice?", ["get a receipt for my order", "invoice pdf for my purchase"]),
    ("tracking", "Where is my parcel?", ["track my package", "order tracking number not working"]),
    ("退货", "退货需要多长时间", ["退款多久到账", "退货以后什么时候退钱"]),
    ("发票", "怎么开发票", ["我需要开具发票", "发票在哪里下载"]),
    ("密码", "忘记密码怎么办", ["密码找不回来了", "怎么重置登录密码"]),
    ("配送", "配送需要几天", ["多久能送到", "快递几天到货"]),
]


def _kb_with_faq(kb: KnowledgeBase, tmp_path: Path) -> None:
    rows = [{"id": i, "question": q, "alt_questions": alts, "answer": f"answer about {i}",
             "lang": "zh" if any("\u4e00" <= c <= "\u9fff" for c in q) else "en"} for i, q, alts in TOPICS]
    path = tmp_path / "faq.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    kb.ingest([path])


def test_packaged_out_of_domain_questions_cover_both_languages() -> None:
    ood = ood_questions()
    assert len(ood["en"]) >= 70 and len(ood["zh"]) >= 70
    assert all(any("\u4e00" <= c <= "\u9fff" for c in q) for q in ood["zh"])


def test_auto_calibration_on_a_small_corpus(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    _kb_with_faq(fake_kb, tmp_path)
    cal = fake_kb.auto_calibrate()
    n_ood = sum(len(v) for v in ood_questions().values())
    # every alternative phrasing of the 12 entries held out once (2 each); negatives: each of the 12 entries
    # asked about with the entry left out, plus the generic out-of-domain questions
    assert cal.n == 24 + 12 + n_ood
    assert cal.fitted_on.startswith("auto: 24 held-out phrasings, 12 held-out entries, ")
    assert fake_kb.calibration == cal  # live
    assert fake_kb.store.meta.get(MetaKey.calibration) is not None
    # a generic out-of-domain question is handed off
    assert fake_kb.ask(Question(question="Tell me a joke.")).decision == "handoff"


def test_near_duplicate() -> None:
    assert near_duplicate("How do I reset my password?", "how do i reset my password")
    assert not near_duplicate("How do I reset my password?", "Do you ship to Canada?")


def test_refit_scores_each_question_without_the_phrasings_learned_from_it(fake_kb: KnowledgeBase,
                                                                        tmp_path: Path) -> None:
    """The issue's scenario: calibrate on labelled questions, the knowledge base learns those questions
    verbatim as phrasings (feedback), then `kb calibrate` with no file refits on the stored questions."""
    _kb_with_faq(fake_kb, tmp_path)
    labelled = [("money back after return how long", ["refund"]), ("password forgotten reset help", ["password"]),
                ("ship orders to Canada please", ["shipping"]), ("card refused when paying online", ["card"]),
                ("please change delivery address", ["address"]), ("cancel the order I made", ["cancel"]),
                ("download invoice for purchase", ["invoice"]), ("where is parcel tracking", ["tracking"]),
                ("weather tomorrow in Paris", []), ("tell me a funny joke", []), ("best pizza recipe", []),
                ("who won the football match", [])]
    fitter = fake_kb.fitter
    vectors = fake_kb.embedder.embed_queries([q for q, _ in labelled])
    before = [fitter.hits(q, v)[0].features["dense_q"] for (q, _), v in zip(labelled, vectors, strict=True)]
    fake_kb.fit_calibration(labelled, fitted_on="unit")
    for q, gold in labelled:
        if gold:
            assert fake_kb.curator.writer.learn_phrasings(gold[0], [q], "feedback", None, Counter()) == 1
    leaked = [fitter.hits(q, v)[0].features["dense_q"] for (q, _), v in zip(labelled, vectors, strict=True)]
    held = [fitter.hits(q, v, learned_from_question(q))[0].features["dense_q"]
            for (q, _), v in zip(labelled, vectors, strict=True)]
    # learned verbatim: the plain ranking matches each answerable question to itself...
    assert [round(x, 4) for x, (_, g) in zip(leaked, labelled, strict=True) if g] == [1.0] * 8
    # ...the refit's ranking does not: each question scores exactly as before it was learned
    assert held == pytest.approx(before)
    refit = fake_kb.recalibrate()
    assert refit.fitted_on == "unit (refit)"  # nothing added by default (KB_ABSENT_ENTRY_SHARE 0)


def test_clarify_probability_is_calibrated_on_held_back_questions() -> None:
    """Synthetic questions whose chance of having the right entry among the choices is a known function of the
    signals: fitted on 2,000, checked on 2,000 held back. Tolerance: among the held-back questions that are
    clarified, the mean predicted P(right one among the choices) is within 0.05 of the observed rate, and
    the set model's calibration error over ten bins is below 0.05."""
    rng = np.random.default_rng(7)

    def draw(n: int) -> tuple[list[dict[str, float]], list[bool], list[bool]]:
        rows, correct, in_set = [], [], []
        for _ in range(n):
            top, set_sum = float(rng.uniform()), float(rng.uniform(0, 2))
            p_top = 1 / (1 + np.exp(-(8 * top - 5)))
            p_set = max(p_top, 1 / (1 + np.exp(-(4 * set_sum - 3))))
            u = rng.uniform()
            rows.append({**dict.fromkeys(SIGNALS, 0.0), "top": top, "set_sum": set_sum, "second": 0.5,
                         "seeking": 1.0})
            correct.append(bool(u < p_top))
            in_set.append(bool(u < p_set))
        return rows, correct, in_set

    rows, correct, in_set = draw(2000)
    cal = fit_calibration(rows, correct, 0.9, in_set=in_set, allow_boosted=False)
    assert cal.set_model is not None and cal.clarify_threshold is not None
    held, _, held_set = draw(2000)
    # a lower precision for clarifications (a miss costs a click, not a wrong answer): a lower clarify
    # threshold, the same answer threshold, and held-back clarifications still meet the lower target
    loose = fit_calibration(rows, correct, 0.9, in_set=in_set, allow_boosted=False, clarify_precision=0.75)
    assert loose.answer_threshold == cal.answer_threshold
    assert loose.clarify_threshold is not None and loose.clarify_threshold < cal.clarify_threshold
    p_loose = np.asarray([loose.set_confidence(r) for r in held])
    top_loose = np.asarray([loose.confidence(r) for r in held])
    picked = (top_loose < loose.answer_threshold) & (p_loose >= loose.clarify_threshold)
    assert picked.sum() > 100 and np.asarray(held_set, dtype=float)[picked].mean() >= 0.75 - 0.05
    p_set = np.asarray([cal.set_confidence(r) for r in held])
    p_top = np.asarray([cal.confidence(r) for r in held])
    observed = np.asarray(held_set, dtype=float)
    clarified = (p_top < cal.answer_threshold) & (p_set >= cal.clarify_threshold)
    assert clarified.sum() >= 100
    assert abs(p_set[clarified].mean() - observed[clarified].mean()) < 0.05
    assert observed[clarified].mean() >= 0.9 - 0.05
    bins = np.minimum((p_set * 10).astype(int), 9)
    ece = sum(abs(p_set[bins == b].mean() - observed[bins == b].mean()) * (bins == b).mean()
              for b in range(10) if (bins == b).any())
    assert ece < 0.05


def _fitter(absent_share: float):  # type: ignore[no-untyped-def]
    from answering.fitting import CalibrationFitter

    return CalibrationFitter(None, None, lambda h, v: h, 0.9, None, absent_share=absent_share)  # type: ignore[arg-type]


def test_labelled_questions_are_asked_again_without_their_entries() -> None:
    questions = [(f"q{i}", (f"e{i}",)) for i in range(6)] + [("off topic", ()), ("also off", ())]
    learned = lambda p: p.get("unit_id") == "learned-1"  # noqa: E731
    base = [learned] + [None] * 7
    out, excludes, share, added = _fitter(0.5).with_absent_entries(questions, base, None)
    assert added == 3 and share == 0.25  # the labelled set's own share of unanswerable questions (2 of 8)
    assert out[:8] == questions and len(excludes) == 11
    assert all(gold == () for _, gold in out[8:])
    asked = {q for q, _ in out[8:]}
    assert asked <= {f"q{i}" for i in range(6)} and len(asked) == 3
    for (question, _), exclude in zip(out[8:], excludes[8:], strict=True):
        entry = f"e{question[1:]}"
        assert exclude is not None
        assert exclude({"entry_id": entry}) and exclude({"doc_id": entry})
        assert not exclude({"entry_id": "e-other"})
        assert exclude({"unit_id": "learned-1"}) == (question == "q0")  # the question's own exclusions stay
    # a configured share wins over the labelled mix
    assert _fitter(0.5).with_absent_entries(questions, None, 0.1)[2] == 0.1


def test_no_absent_entries_without_a_known_unanswerable_share() -> None:
    answerable_only = [(f"q{i}", (f"e{i}",)) for i in range(6)]
    out, excludes, share, added = _fitter(0.5).with_absent_entries(answerable_only, None, None)
    assert (out, excludes, share, added) == (answerable_only, [None] * 6, None, 0)
    assert _fitter(0.0).with_absent_entries(answerable_only, None, 0.2)[3] == 0
    assert _fitter(0.5).with_absent_entries(answerable_only, None, 0.2)[3] == 3


def test_a_fit_with_absent_entries_scores_them_without_their_entries(fake_kb: KnowledgeBase, tmp_path: Path) -> None:
    _kb_with_faq(fake_kb, tmp_path)
    labelled = [("money back after return how long", ["refund"]), ("password forgotten reset help", ["password"]),
                ("ship orders to Canada please", ["shipping"]), ("card refused when paying online", ["card"]),
                ("please change delivery address", ["address"]), ("cancel the order I made", ["cancel"]),
                ("weather tomorrow in Paris", []), ("tell me a funny joke", [])]
    fake_kb.fitter.absent_share = 0.5
    questions, excludes, share, added = fake_kb.fitter.with_absent_entries(labelled, None, None)
    assert added == 3 and share == 0.25
    vectors = fake_kb.embedder.embed_queries([q for q, _ in questions])
    for (question, gold), exclude, vector in zip(questions[-3:], excludes[-3:], vectors[-3:], strict=True):
        own = next(g for q, g in labelled if q == question)[0]
        assert gold == () and all(h.entry_id != own for h in fake_kb.fitter.hits(question, vector, exclude))
    cal = fake_kb.fit_calibration(labelled, fitted_on="unit")
    assert cal.n == len(labelled) + 3
    assert cal.fitted_on == "unit, 3 of them asked again without their entries, unanswerable share 0.25"
