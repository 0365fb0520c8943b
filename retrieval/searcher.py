"""Hybrid search: dense (Qdrant) + BM25 (Qdrant sparse vectors with IDF) + learned fusion."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np

from core.errors import BadInput
from core.models import Filters, SearchHit
from retrieval.bm25 import query_sparse
from retrieval.candidates import Candidate, build_candidates
from retrieval.cohesion import EntryCohesion
from retrieval.embed import Embedder
from retrieval.embed_english import is_english
from retrieval.fusion import FusionModel
from retrieval.index import DENSE, ENGLISH, LIGHT_KEYS, SPARSE, IndexHit, SearchQuery, VectorIndex
from retrieval.products import ProductMatcher
from retrieval.tokenize import Tokenizer

log = logging.getLogger(__name__)
Mode = Literal["hybrid", "dense", "bm25"]
MAX_QUERY_CHARS = 2000
TIE_SLACK = 10
"""Each list is asked for this many more hits than it keeps, then cut in (score, unit id) order: the engine
orders equal scores (common in BM25: short units sharing one rare word) as its internal layout falls, which
differs between two builds of the same knowledge base and between replicas, and the ties at the cut decided
which candidates a question got. Seen as the same calibration run twice giving answer thresholds 0.60 and
0.64 (banking77 with no labels)."""
COHESION_HITS = 3
"""The first this many FAQ hits carry their entry's cohesion (``retrieval.cohesion``): the confidence reads the
first's, and a demotion may move one of the next up."""
PASSAGE_KINDS = ("answer", "chunk")


class Hits(NamedTuple):
    """The single-retriever lists a query's candidates are built from (``english``: the English embedder's,
    empty for other questions or without one)."""

    dense: list[IndexHit]
    bm25: list[IndexHit]
    passages: list[IndexHit]
    english: list[IndexHit] = []  # noqa: RUF012 (a NamedTuple default: never mutated, replaced)

    def without(self, exclude: Callable[[dict[str, Any]], bool]) -> Hits:
        """The same lists with the points ``exclude`` rejects left out (leave-one-out refits)."""
        return Hits(*([h for h in hits if not exclude(h.payload)] for hits in self))


@dataclass
class Timings:
    """Milliseconds per stage of one query (for latency reports)."""

    stages: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, start: float) -> float:
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + (now - start) * 1000.0
        return now


def _stable(hits: list[IndexHit], limit: int) -> list[IndexHit]:
    """The first ``limit`` hits by score, ties in unit-id order (see ``TIE_SLACK``)."""
    return sorted(hits, key=lambda h: (-h.score, h.unit_id))[:limit]


def _scoped(general: list[IndexHit], own: list[IndexHit], limit: int) -> list[IndexHit]:
    """One list of a product-scoped search: the product's own hits and the hits of no product, by score."""
    merged = own + [h for h in general if not h.payload.get("product")]
    return sorted(merged, key=lambda h: -h.score)[:limit]


def candidate_to_hit(c: Candidate, score: float) -> SearchHit:
    p = c.payload
    meta = dict(p.get("metadata") or {})
    if c.is_faq:
        matched = c.matched or p
        return SearchHit(
            entry_id=p["entry_id"], chunk_id=str(matched["unit_id"]), kind=matched.get("kind", "question"),
            text=meta.get("answer", p.get("text", "")), score=score, source=p.get("source", ""),
            question=meta.get("question"), answer=meta.get("answer"),
            metadata={"category": p.get("category"), "product": p.get("product"), "lang": p.get("lang"),
                      "tags": p.get("tags") or [], "matched_text": matched.get("text"),
                      **{k: v for k, v in meta.items() if k not in ("question", "answer")}},
            features=c.features,
        )
    return SearchHit(
        doc_id=p.get("doc_id"), chunk_id=str(p["unit_id"]), kind="chunk", text=p.get("text", ""), score=score,
        source=p.get("source", ""), title=p.get("title"), section=p.get("section"),
        char_start=p.get("char_start"), char_end=p.get("char_end"),
        metadata={"category": p.get("category"), "product": p.get("product"), "lang": p.get("lang"),
                  "tags": p.get("tags") or [], "position": p.get("position"), **meta},
        features=c.features,
    )


class HybridSearcher:
    """Stateless per query; holds the loaded parts. Safe to share between threads."""

    def __init__(
        self, embedder: Embedder, tokenizer: Tokenizer, index: VectorIndex, fusion: FusionModel,
        candidates: int = 50, passages: int = 30, english: Embedder | None = None,
    ) -> None:
        self.embedder = embedder
        self.english = english
        """The second, English-only embedder (None: off); its index is ``PairedIndex.english``."""
        self.tokenizer = tokenizer
        self.index = index
        self.fusion = fusion
        self.n_candidates = candidates
        self.n_passages = passages
        self.products = ProductMatcher(())
        """The knowledge base's product names (``retrieval.products``); the knowledge base refreshes it."""
        self.cohesion = EntryCohesion(index)
        """Entries' cohesion, cached until the knowledge base changes (the knowledge base clears it)."""

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.embed_queries([query])[0]

    def english_vector(self, query: str) -> np.ndarray | None:
        """The English embedder's vector of an English question (None for other text, without one, or when it
        fails: a second signal failing must not fail the answer, which the multilingual vector and BM25 carry)."""
        if self.english is None or not is_english(query):
            return None
        try:
            return self.english.embed_queries([query])[0]
        except Exception as exc:  # broad on purpose: any failure of the optional signal; logged, then without it
            log.warning("English embedder failed (%s: %s); searching without it", type(exc).__name__, exc)
            return None

    def product_of(self, query: str, filters: Filters | None = None, context: str | None = None) -> str | None:
        """The product a question is about: named in it, else in its ``context`` (the conversation before it);
        None when none is named or the caller already filters by product."""
        if filters is not None and filters.product:
            return None
        products = self.products
        if not products:
            return None
        return products.find(query) or (products.find(context) if context else None)

    def candidates(
        self, query: str, filters: Filters | None = None, vector: np.ndarray | None = None,
        timings: Timings | None = None, context: str | None = None,
    ) -> list[Candidate]:
        """Dense and BM25 hits grouped into candidates with fusion features, unranked."""
        query = query.strip()
        if not query:
            raise BadInput("empty query")
        if len(query) > MAX_QUERY_CHARS:
            raise BadInput(f"query too long: {len(query)} characters (max {MAX_QUERY_CHARS})")
        t = timings or Timings()
        start = time.perf_counter()
        qvec = vector if vector is not None else self.embed_query(query)
        t.add("embed", start)
        return self.build(self.hits(query, qvec, filters, t, context=context), t)

    def hits(self, query: str, vector: np.ndarray, filters: Filters | None = None,
             timings: Timings | None = None, full: bool = False, context: str | None = None) -> Hits:
        """The dense (all units), BM25 and passage-only dense lists of one query, in one batch to the index.
        Light payloads unless ``full`` (leave-one-out refits look at the texts of the hits). An English
        question also gets the English embedder's list. A question about a product (``product_of``) is
        searched among that product's entries and the entries of no product."""
        t = timings or Timings()
        start = time.perf_counter()
        english = self.english_vector(query)
        start = t.add("embed_en", start) if english is not None else start
        queries = [SearchQuery(DENSE, vector, self.n_candidates, filters),
                   SearchQuery(SPARSE, query_sparse(self.tokenizer.tokenize(query)), self.n_candidates, filters)]
        if self.n_passages:
            queries.append(SearchQuery(DENSE, vector, self.n_passages, filters, PASSAGE_KINDS))
        if english is not None:
            queries.append(SearchQuery(ENGLISH, english, self.n_candidates, filters))
        product = self.product_of(query, filters, context)
        n = len(queries)
        if product is not None:
            scoped = (filters or Filters()).model_copy(update={"product": [product]})
            queries += [q._replace(filters=scoped) for q in queries]
        found = self.index.search_batch([q._replace(limit=q.limit + TIE_SLACK) for q in queries],
                                        None if full else LIGHT_KEYS)
        found = [_stable(hits, q.limit) for hits, q in zip(found, queries, strict=True)]
        if product is not None:
            found = [_scoped(general, own, q.limit)
                     for general, own, q in zip(found[:n], found[n:], queries[:n], strict=True)]
        t.add("index", start)
        passages = found[2] if self.n_passages else []
        return Hits(found[0], found[1], passages, found[-1] if english is not None else [])

    def to_hits(self, ranked: Sequence[tuple[Candidate, float]],
                exclude: Callable[[dict[str, Any]], bool] | None = None) -> list[SearchHit]:
        """Search hits of ranked candidates, each with the full payload of its matched unit (searches return
        light payloads: only the hits shown are fetched whole); the first ``COHESION_HITS`` FAQ entries with
        their cohesion as the feature ``cohesion`` (absent for an entry with one phrasing; ``exclude``: the
        points left out of this ranking, left out of it too)."""
        faq = [c for c, _ in ranked if c.is_faq][:COHESION_HITS]
        for c in faq:
            value = self.cohesion.of(str(c.payload["entry_id"]), exclude)
            if value is not None:
                c.features = {**c.features, "cohesion": value}
        unit_of = [str((c.matched or c.payload)["unit_id"]) for c, _ in ranked]
        light = [u for (c, _), u in zip(ranked, unit_of, strict=True) if "metadata" not in (c.matched or c.payload)]
        full = self.index.payloads(light) if light else {}
        out = []
        for (c, score), unit in zip(ranked, unit_of, strict=True):
            if unit in full:
                c.payload = c.matched = full[unit]
            out.append(candidate_to_hit(c, score))
        return out

    def build(self, hits: Hits, timings: Timings | None = None) -> list[Candidate]:
        """Candidates with fusion features from the three lists."""
        start = time.perf_counter()
        cands = build_candidates(hits.dense, hits.bm25, k=getattr(self.fusion, "k", 60), passages=hits.passages,
                                 english=hits.english)
        (timings or Timings()).add("fusion", start)
        return cands

    def rank(self, cands: Sequence[Candidate], mode: Mode = "hybrid") -> list[tuple[Candidate, float]]:
        if mode == "hybrid":
            scored = [(c, self.fusion.score(c.features)) for c in cands]
            return sorted(scored, key=lambda x: -x[1])  # stable: ties keep the candidates' order
        if mode == "dense":
            pool = [c for c in cands if c.features["in_dense"]]
            return sorted(((c, c.features["dense"]) for c in pool), key=lambda x: -x[1])
        if mode == "bm25":
            pool = [c for c in cands if c.features["in_bm25"]]
            return sorted(((c, c.features["bm25_norm"]) for c in pool), key=lambda x: -x[1])
        raise BadInput(f"unknown search mode {mode!r}")

    def search(
        self, query: str, top_k: int = 5, filters: Filters | None = None, mode: Mode = "hybrid",
        vector: np.ndarray | None = None, timings: Timings | None = None, context: str | None = None,
    ) -> list[SearchHit]:
        if top_k < 1 or top_k > 100:
            raise BadInput(f"top_k must be between 1 and 100, got {top_k}")
        t = timings or Timings()
        cands = self.candidates(query, filters, vector, t, context=context)
        start = time.perf_counter()
        ranked = self.rank(cands, mode)[:top_k]
        hits = self.to_hits(ranked)
        t.add("rank", start)
        return hits
