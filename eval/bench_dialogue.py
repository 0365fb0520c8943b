"""Dialogue turns (dstc11_track5 val): answer knowledge-seeking turns from the FAQs, hand off the others.

The knowledge base is the FAQs of the 143 hotels and restaurants, each entry with its hotel or restaurant as
its ``product``. A turn is asked as ``/v1/ask`` gets it from a chatbot: the question is the customer's last
turn, and the turns before it (the customer's and the bot's) are its ``context``, which only tells which
hotel it is about (product-scoped search; the hotel is usually named there, often by the bot). A
knowledge-seeking-turn classifier (the shared embedding of the last user turn plus word and character
n-grams, ``triage.classifier``) is trained on the dev turns; its out-of-fold probability on dev and its
probability on test become the ``seeking`` signal of the calibrated confidence. Turns whose gold is only
reviews are left out (reviews are not in this knowledge base). Fixed 30/70 dev/test split by turn index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from core.models import KnowledgeEntry

Turn = tuple[str, str, frozenset[str], bool, str]  # question, last user turn, gold FAQ ids, seeking, earlier turns


def load_turns() -> tuple[list[KnowledgeEntry], list[Turn], list[Turn]]:
    from eval.datasets import dstc11_track5, shared_data_dir

    bench = dstc11_track5()
    base = shared_data_dir() / "dstc11_track5" / "val"
    logs = json.loads((base / "logs.json").read_text(encoding="utf-8"))
    labels = json.loads((base / "labels.json").read_text(encoding="utf-8"))
    dev: list[Turn] = []
    test: list[Turn] = []
    for i, (log, label) in enumerate(zip(logs, labels, strict=True)):
        gold = frozenset(f"{k['domain']}:{k['entity_id']}:faq:{k['doc_id']}" for k in label.get("knowledge", [])
                         if k.get("doc_type") == "faq")
        seeking = bool(label.get("target"))
        if seeking and not gold:
            continue  # review-only knowledge: not in this knowledge base
        turn = (log[-1]["text"], log[-1]["text"], gold if seeking else frozenset(), seeking,
                "\n".join(t["text"] for t in log[:-1]))
        (dev if (i * 2654435761) % 1000 < 300 else test).append(turn)
    return bench.entries, dev, test


def seeking_probabilities(dev_texts: list[str], dev_vecs: np.ndarray, dev_y: list[bool], test_texts: list[str],
                          test_vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(out-of-fold P(seeking) on dev, P(seeking) on test from a classifier trained on all of dev)."""
    from sklearn.model_selection import StratifiedKFold

    from triage.classifier import train_text_classifier

    labels = ["seek" if y else "other" for y in dev_y]
    oof = np.zeros(len(dev_texts))
    for train, held in StratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(dev_texts, labels):
        clf = train_text_classifier([dev_texts[i] for i in train], [labels[i] for i in train], dev_vecs[train],
                                    c_value=2.0)
        col = clf.labels.index("seek")
        oof[held] = clf.predict_proba([dev_texts[i] for i in held], dev_vecs[held])[:, col]
    clf = train_text_classifier(dev_texts, labels, dev_vecs, c_value=2.0)
    return oof, clf.predict_proba(test_texts, test_vecs)[:, clf.labels.index("seek")]


def dstc11_answering(home: Path) -> dict[str, Any]:
    from answering.decision import decide
    from answering.signals import signals
    from eval.bench_answering import _cal_summary, _ingest, curve_points, open_kb
    from retrieval.fusion_fit import fit_on_candidates

    entries, dev, test = load_turns()
    kb = open_kb(home)
    try:
        _ingest(kb, "dstc11", entries)
        emb = kb.embedder
        dev_last, test_last = emb.embed_queries([t[1] for t in dev]), emb.embed_queries([t[1] for t in test])
        oof, p_test = seeking_probabilities([t[1] for t in dev], dev_last, [t[3] for t in dev],
                                            [t[1] for t in test], test_last)
        seek_acc = float(np.mean([(p >= 0.5) == t[3] for p, t in zip(p_test, test, strict=True)]))
        dev_vecs = emb.embed_queries([t[0] for t in dev])
        dev_c = [kb.searcher.candidates(t[0], vector=v, context=t[4]) for t, v in zip(dev, dev_vecs, strict=True)]
        fit = fit_on_candidates([(c, t[2]) for c, t in zip(dev_c, dev, strict=True) if t[2]])
        kb.searcher.fusion = fit.model
        cal = kb.fitter.fit_rows([(t[0], tuple(t[2])) for t in dev], fitted_on="dstc11_track5 dev",
                                 seeking=[float(p) for p in oof], contexts=[t[4] for t in dev])
        test_vecs = emb.embed_queries([t[0] for t in test])
        conf, correct, decisions = [], [], []
        for t, v, p in zip(test, test_vecs, p_test, strict=True):
            hits = kb.fitter.hits(t[0], v, context=t[4])
            _, decision, _, _, related = decide(t[0], hits, cal, kb.settings.answer_threshold, kb.tokenizer,
                                                seeking=float(p))
            conf.append(cal.confidence(signals(hits, t[0], float(p))))
            correct.append(bool(t[2]) and bool(hits) and hits[0].target_id in t[2])
            decisions.append((decision, related))
        n_pos = sum(bool(t[2]) for t in test)
        n_neg = len(test) - n_pos
        answered = [d == "answer" for d, _ in decisions]
        right = sum(a and c for a, c in zip(answered, correct, strict=True))
        clar_gold = sum(d == "clarify" and bool(t[2]) and any(r.entry_id in t[2] for r in rel)
                        for (d, rel), t in zip(decisions, test, strict=True))
        return {"calibrated": {
            **curve_points(conf, correct, [bool(t[2]) for t in test]),
            "self_served": round((right + clar_gold) / n_pos, 4), "answered_correct": round(right / n_pos, 4),
            "clarified_gold": round(clar_gold / n_pos, 4),
            "clarify_rate": round(sum(d == "clarify" for d, _ in decisions) / len(test), 4),
            "precision": round(right / sum(answered), 4) if sum(answered) else None,
            "oos_handoff_recall": round(sum(d == "handoff" and not t[2] for (d, _), t in
                                            zip(decisions, test, strict=True)) / n_neg, 4),
            "seeking_accuracy": round(seek_acc, 4), "calibration": _cal_summary(cal), "fusion": fit.model_name,
            "n_test": len(test), "n_test_answerable": n_pos},
            "n_dev": len(dev),
            "setup": ("FAQ turns to answer, non-knowledge-seeking turns to hand off; fixed 30/70 dev/test split by "
                      "turn; the question is the last user turn, the earlier turns its context (product-scoped "
                      "search: each hotel or restaurant is a product); knowledge-seeking-turn classifier trained "
                      "on the dev turns (out-of-fold on dev)")}
    finally:
        kb.close()
