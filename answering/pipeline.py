"""The path of a question: context, retrieval, demotions, decision, triage, generation, ask log."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import BackendError
from core.models import Filters, SearchHit
from core.settings import Settings
from core.store import Store
from core.text import detect_lang
from ingest.pii import PiiMasker
from retrieval.searcher import MAX_QUERY_CHARS, HybridSearcher, Timings
from retrieval.tokenize import Tokenizer
from triage.emotion import EmotionDetector
from triage.routing import Router

from .cache import AnswerCache, Decided, cache_key
from .calibration import Calibration
from .conversation import contextualize
from .decision import citation_for, decide
from .generate import Generator, Passage, parse_generated
from .records import AnswerSource, AskResult, Decision, Question
from .rerank import Reranker

log = logging.getLogger(__name__)
MAX_CONTEXT_CHARS = 8000
"""How much of a conversation's context (newest first) is read for the product it names: bounded work per
request whatever a caller sends (20 turns of up to 2,000 characters)."""

Demote = Callable[[list[SearchHit], np.ndarray], list[SearchHit]]
AskLogger = Callable[[str, str, str, float, str | None, Sequence[str]], None]
"""(request_id, masked question, decision, confidence, top id, entry ids cited or offered) -> None"""


@dataclass
class Answerer:
    """Answers one question at a time; every part is injected (the knowledge base wires it), and the
    mutable ones (calibration, router, emotion) are swapped in place when a new model goes live."""

    settings: Settings
    store: Store
    searcher: HybridSearcher
    tokenizer: Tokenizer
    masker: PiiMasker
    router: Router
    emotion: EmotionDetector
    demote: Demote
    calibration: Calibration | None = None
    reranker: Reranker | None = None
    generator: Generator | None = None

    cache: AnswerCache | None = None
    generation: Callable[[], Any] | None = None
    """The knowledge base's current generation (part of the answer cache key)."""
    ask_log: AskLogger | None = None
    """Where asks are logged (the background writer); unset: written at once to ``store.asks``."""

    def retrieve(self, query: str, filters: Filters | None, timings: Timings, product: str | None = None) -> Decided:
        """Everything that depends only on the question and the knowledge: what the answer cache holds.
        ``product``: the product the conversation is about (``HybridSearcher.product_of``)."""
        t = time.perf_counter()
        vector = self.searcher.embed_query(query)
        timings.add("embed", t)
        hits = self.searcher.search(query, 10, filters, vector=vector, timings=timings, context=product)
        if self.reranker is not None:
            t = time.perf_counter()
            hits = self.reranker.rerank(query, hits)
            timings.add("rerank", t)
        hits = self.demote(hits, vector)
        t = time.perf_counter()
        answer, decision, confidence, citations, related = decide(
            query, hits, self.calibration, self.settings.answer_threshold, self.tokenizer)
        source: AnswerSource | None = None
        if answer is not None:
            source = "faq" if hits[0].entry_id else "extract"
        decided = Decided.of(vector, answer=answer, decision=decision, confidence=confidence, citations=citations,
                             related=related, answer_source=source, top_id=hits[0].target_id if hits else None,
                             hits=hits, masked_query=self.masker.mask(query).text)
        timings.add("decide", t)
        return decided

    def _cache_key(self, query: str, filters: Filters | None, product: str | None) -> str:
        return cache_key(self.generation() if self.generation else None, query, filters, detect_lang(query), product)

    def _decided(self, query: str, request: Question, follow_up: bool, product: str | None,
                 timings: Timings) -> Decided:
        """From the answer cache when it holds this question (about this product) for this generation, else
        retrieved (and cached). A follow-up expanded with the conversation's history is never cached."""
        if self.cache is None or follow_up:
            return self.retrieve(query, request.filters, timings, product)
        t = time.perf_counter()
        key = self._cache_key(query, request.filters, product)
        decided = self.cache.get(key)
        timings.add("cache", t)
        if decided is None:
            decided = self.retrieve(query, request.filters, timings, product)
            self.cache.put(key, decided)
        return decided

    def decide(self, request: Question) -> tuple[AskResult, list[SearchHit], str]:
        """Retrieval and the decision, before any generation: (result, hits, query used)."""
        started = time.perf_counter()
        timings = Timings()
        session = (self.store.asks.session(request.session_id, self.settings.session_ttl_s)
                   if request.session_id else None)
        previous = session.question if session else None
        # what the conversation says about the product: the one it was about, the last question, the turns the
        # caller sent (the newest mention wins)
        parts = [*((session.product, previous) if session else ()), *(request.context or ())]
        context = "\n".join(x for x in parts if x)[-MAX_CONTEXT_CHARS:] if session or request.context else None
        if previous:  # the context gives way to the question within the query limit
            room = MAX_QUERY_CHARS - len(request.question.strip()) - 1
            if room <= 0:
                previous = None
            elif room < len(previous):
                previous = previous[-room:].split(" ", 1)[-1]
        query = contextualize(previous, request.question)
        product = self.searcher.product_of(query, request.filters, context)
        decided = self._decided(query, request, previous is not None, product, timings)
        return self._finish(request, query, product, decided, timings, started), list(decided.hits), query

    def decide_cached(self, request: Question) -> tuple[AskResult, list[SearchHit], str] | None:
        """``decide`` for a question the answer cache holds, doing nothing that may block: None, with nothing
        done or logged, unless the question has no session (whose turns are in the store), the cache is in
        this process, the ask log is the background writer and no generator would rewrite the answer. The
        API tries it on its event loop before it hands a question to a worker thread: a cached answer costs
        ~0.1 ms of work, less than the hop."""
        if (request.session_id or self.cache is None or not self.cache.in_process or self.ask_log is None
                or self.generator is not None):
            return None
        started = time.perf_counter()
        timings = Timings()
        context = "\n".join(x for x in request.context if x)[-MAX_CONTEXT_CHARS:] if request.context else None
        query = contextualize(None, request.question)
        product = self.searcher.product_of(query, request.filters, context)
        t = time.perf_counter()
        key = self._cache_key(query, request.filters, product)
        decided = self.cache.get(key, count_miss=False)  # a miss is looked up (and counted) again in ``decide``
        if decided is None:
            return None
        timings.add("cache", t)
        return self._finish(request, query, product, decided, timings, started), list(decided.hits), query

    def _finish(self, request: Question, query: str, product: str | None, decided: Decided, timings: Timings,
                started: float) -> AskResult:
        """What is computed per request around a decision (cached or not): triage, the session's memory, the
        ask log, the result."""
        vector = decided.vector()
        answer, decision, citations = decided.answer, decided.decision, decided.citations
        t = time.perf_counter()
        emotion = self.emotion.detect(request.question, vector)
        route = self.router.route(request.question, vector, request.customer, escalate=emotion.escalate)
        timings.add("triage", t)
        if emotion.escalate and self.settings.escalate_handoff and decision != Decision.handoff:
            answer, decision, citations = None, Decision.handoff, []
        t = time.perf_counter()
        if request.session_id:  # masked, bounded: a long conversation never makes a query too long
            self.store.asks.remember_question(request.session_id, decided.masked_query,
                                              self.settings.session_max_chars,
                                              product)
        request_id = uuid.uuid4().hex
        offered = [e for e in dict.fromkeys([*(c.entry_id for c in citations), *(r.entry_id for r in decided.related)])
                   if e]  # what a chatbot's feedback may confirm
        log_ask = self.ask_log or self.store.asks.log
        log_ask(request_id, decided.masked_query, decision, decided.confidence, decided.top_id, offered)
        timings.add("log", t)
        return AskResult(
            answer=answer, decision=decision, confidence=round(decided.confidence, 4), citations=citations,
            related=decided.related, request_id=request_id,
            answer_source=decided.answer_source if answer is not None else None, route=route, emotion=emotion,
            query=query if query != request.question.strip() else None,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            timings_ms={k: round(v, 3) for k, v in timings.stages.items()},
        )

    def warm_up(self, questions: Sequence[str]) -> None:
        """Run questions through retrieval, the decision and triage (nothing logged or cached), so the
        first real requests find every model, index and tokenizer loaded."""
        for q in questions:
            decided = self.retrieve(q, None, Timings())
            vector = decided.vector()
            emotion = self.emotion.detect(q, vector)
            self.router.route(q, vector, None, escalate=emotion.escalate)

    @staticmethod
    def _passages(hits: Sequence[SearchHit]) -> list[Passage]:
        return [Passage(text=h.text, title=h.title or h.question) for h in hits[:3]]

    def ask_with_hits(self, request: Question) -> tuple[AskResult, list[SearchHit]]:
        """The answer plus the ranked hits it was decided from (evaluators use the same code path)."""
        started = time.perf_counter()
        result, hits, query = self.decide(request)
        if self.generator is None or result.decision != Decision.answer or not hits or not hits[0].doc_id:
            return result, hits
        t = time.perf_counter()
        try:
            generated = self.generator.generate(query, self._passages(hits), detect_lang(request.question))
        except BackendError as exc:
            log.warning("generation failed, extractive answer kept: %s", exc)
            generated = None
        timings = dict(result.timings_ms, generate=round((time.perf_counter() - t) * 1000, 3))
        if generated is not None and generated.refused:
            result = result.model_copy(update={"answer": None, "decision": Decision.handoff, "answer_source": None,
                                               "citations": []})
        elif generated is not None:
            cited = [hits[i - 1] for i in generated.cited] or hits[:1]
            result = result.model_copy(update={
                "answer": generated.text, "answer_source": "llm",
                "citations": [citation_for(query, h, self.tokenizer) for h in cited]})
        return result.model_copy(update={
            "timings_ms": timings, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}), hits

    def ask_stream(self, request: Question) -> Iterator[tuple[str, dict[str, Any]]]:
        """Events: ``meta`` (decision, citations...), ``delta`` pieces of the answer, ``done``."""
        result, hits, query = self.decide(request)
        yield "meta", result.model_dump(mode="json", exclude={"answer"})
        if result.answer is None:
            yield "done", {"answer": None, "decision": str(result.decision)}
            return
        if self.generator is None or not hits or not hits[0].doc_id:
            yield "delta", {"text": result.answer}
            yield "done", {"answer": result.answer, "answer_source": result.answer_source}
            return
        pieces: list[str] = []
        try:
            for piece in self.generator.stream(query, self._passages(hits), detect_lang(request.question)):
                pieces.append(piece)
                yield "delta", {"text": piece}
        except BackendError as exc:
            log.warning("streaming generation failed, extractive answer sent: %s", exc)
            yield "fallback", {"text": result.answer}
            yield "done", {"answer": result.answer, "answer_source": result.answer_source}
            return
        parsed = parse_generated("".join(pieces), 3)
        yield "done", {"answer": None if parsed.refused else parsed.text,
                       "decision": "handoff" if parsed.refused else "answer", "answer_source": "llm"}
