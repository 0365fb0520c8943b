"""The knowledge-base service: one object that the HTTP API, the CLI and the evaluators all call,
so every path answers with the same code. Built from settings by ``KnowledgeBase.open``."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.errors import BackendError, BadInput, NotReady
from core.manifest import META_KEY, Manifest
from core.models import Filters, SearchHit
from core.settings import Settings
from core.store import Store
from core.text import detect_lang
from ingest.chunking import CHUNKER_VERSION
from ingest.pii import PiiMasker
from ingest.pipeline import Ingestor, IngestReport, ProgressFactory
from ingest.tickets import TicketMapping
from retrieval.bm25 import BM25Params
from retrieval.embed import Embedder, build_embedder
from retrieval.fusion import FusionModel, default_fusion, fusion_from_dict
from retrieval.index import VectorIndex
from retrieval.searcher import HybridSearcher, Mode, Timings
from retrieval.tokenize import Tokenizer, TokenizerConfig, load_user_dict

from .answer import citation_for, decide
from .calibration import (
    Calibration,
    default_calibration,
    fit_calibration,
    mix_weights,
    signals,
    threshold_for_precision,
)
from .classify import TextClassifier, read_labelled, train_text_classifier
from .conversation import contextualize
from .curation import Curator
from .emotion import EmotionDetector
from .generate import Generator, OpenAIGenerator, Passage, parse_generated
from .rerank import Reranker, build_reranker
from .routing import Router, load_routing_config
from .schemas import AskRequest, AskResponse, FeedbackRequest, FeedbackResponse, ResolutionRequest, ResolutionResponse

log = logging.getLogger(__name__)
FUSION_KEY = "fusion"
CALIBRATION_KEY = "calibration"
CALIBRATION_SET_KEY = "calibration_set"
USER_DICT_NAME = "userdict.txt"


def _load_model(folder: Path) -> TextClassifier | None:
    return TextClassifier.load(folder) if (folder / "model.joblib").is_file() else None


def open_index(settings: Settings, dim: int) -> VectorIndex:
    if settings.qdrant_url:
        from retrieval.index_qdrant import QdrantServerIndex

        return QdrantServerIndex.connect(settings.qdrant_url, settings.collection, dim, settings.qdrant_api_key)
    from retrieval.index_edge import EdgeIndex

    return EdgeIndex(settings.index_dir, dim)


def _stored_models(store: Store) -> tuple[FusionModel, Calibration | None]:
    """The fusion model and calibration stored in the record, else the package defaults."""
    fusion_data = store.get_meta(FUSION_KEY)
    calibration_data = store.get_meta(CALIBRATION_KEY)
    return (fusion_from_dict(fusion_data) if fusion_data else default_fusion(),
            Calibration.model_validate(calibration_data) if calibration_data else default_calibration())


def install_user_dict(settings: Settings) -> None:
    """Copy the configured jieba user dictionary into the knowledge base's own config."""
    if settings.user_dict is None:
        return
    if not settings.user_dict.is_file():
        raise BadInput(f"user dictionary not found: {settings.user_dict}")
    settings.config_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(settings.user_dict, settings.config_dir / USER_DICT_NAME)


class KnowledgeBase:
    def __init__(
        self, settings: Settings, store: Store, embedder: Embedder, tokenizer: Tokenizer, index: VectorIndex,
        manifest: Manifest, fusion: FusionModel, calibration: Calibration | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.index = index
        self.manifest = manifest
        self.bm25 = BM25Params(k1=settings.bm25_k1, b=settings.bm25_b)
        self.searcher = HybridSearcher(embedder, tokenizer, index, fusion, candidates=settings.candidates)
        self.calibration = calibration
        self.reranker: Reranker | None = build_reranker(settings)
        self.masker = PiiMasker()
        self.router = Router(_load_model(settings.home / "models" / "router"),
                             load_routing_config(settings.routing_config))
        self.emotion = EmotionDetector(_load_model(settings.home / "models" / "emotion"), settings.emotion_threshold)
        self.generator: Generator | None = (
            OpenAIGenerator(settings.llm_base_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout_s)
            if settings.llm_base_url else None
        )
        self.curator = Curator(settings, store, embedder, self.masker, self.ingestor,
                               lambda q: self.searcher.search(q, 5))

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def open(
        cls, settings: Settings, *, embedder: Embedder | None = None, index: VectorIndex | None = None,
        allow_mismatch: bool = False, for_ingest: bool = False,
    ) -> KnowledgeBase:
        """Load every part once. ``allow_mismatch`` is for ``kb reindex``, which rebuilds a mismatched index."""
        settings.home.mkdir(parents=True, exist_ok=True)
        install_user_dict(settings)
        store = Store(settings.database())
        emb = embedder or build_embedder(settings)
        emb.warm_up()
        user_dict = settings.config_dir / USER_DICT_NAME
        words = load_user_dict(user_dict) if user_dict.is_file() else ()
        tokenizer = Tokenizer(TokenizerConfig(zh_mode=settings.zh_mode, user_words=words))
        tokenizer.warm_up()
        manifest = Manifest(
            embedding_model=emb.model_id, dim=emb.dim, tokenizer=tokenizer.config.fingerprint(),
            bm25_k1=settings.bm25_k1, bm25_b=settings.bm25_b, chunker_version=CHUNKER_VERSION,
        )
        stored = store.get_meta(META_KEY)
        if stored is not None and not allow_mismatch:
            previous = Manifest.model_validate(stored)
            if for_ingest and previous.model_copy(update={"chunker_version": CHUNKER_VERSION}) == manifest:
                # only the chunker changed: re-ingesting re-chunks every document (source hashes include it)
                store.set_meta(META_KEY, manifest.model_dump())
            else:
                manifest.check_against(previous)
        if stored is None:
            store.set_meta(META_KEY, manifest.model_dump())
        idx = index or open_index(settings, emb.dim)
        fusion, calibration = _stored_models(store)
        return cls(settings, store, emb, tokenizer, idx, manifest, fusion, calibration)

    def close(self) -> None:
        self.index.close()
        self.store.close()

    # -- writing ----------------------------------------------------------------------------
    def ingestor(self) -> Ingestor:
        fingerprint = "|".join(str(v) for v in self.manifest.model_dump().values())
        return Ingestor(
            self.store, self.embedder, self.tokenizer, self.index, self.bm25, fingerprint,
            self.settings.chunk_max_tokens, self.settings.chunk_overlap_tokens,
            quarantine_path=self.settings.home / "quarantine.jsonl",
        )

    def ingest(self, paths: Sequence[Path], prune: bool = False,
               progress: ProgressFactory | None = None) -> IngestReport:
        return self.ingestor().ingest(paths, prune=prune, progress_factory=progress)

    def ingest_tickets(self, paths: Sequence[Path], mapping: TicketMapping) -> IngestReport:
        """Ticket exports: cleaned and masked into the record, resolved tickets mined into review candidates."""
        ingestor = self.ingestor()
        report = IngestReport()
        started = time.perf_counter()
        for path in paths:
            if not path.is_file():
                raise BadInput(f"no such ticket export: {path}")
            ingestor.ingest_tickets(path, mapping, report, self.settings.promote_min_tickets)
        report.seconds = time.perf_counter() - started
        return report

    def reindex(self, progress: ProgressFactory | None = None) -> int:
        n = self.ingestor().reindex(progress)
        self.store.set_meta(META_KEY, self.manifest.model_dump())
        return n

    def set_calibration(self, calibration: Calibration) -> None:
        self.store.set_meta(CALIBRATION_KEY, calibration.model_dump())
        self.calibration = calibration
        self.curator.bump()

    def fit_calibration(self, questions: Sequence[tuple[str, Sequence[str]]], fitted_on: str = "") -> Calibration:
        """Fit the confidence on (question, gold ids) pairs; an empty gold list means "should hand off".
        The questions are kept, so ``recalibrate`` can refit after the knowledge base has learned."""
        rows, correct = [], []
        vectors = self._embed_texts([q for q, _ in questions])
        for (question, gold), vector in zip(questions, vectors, strict=True):
            hits = self.curator.demote(self.searcher.search(question, 10, vector=vector), vector)
            rows.append(signals(hits))
            correct.append(bool(hits) and bool(gold) and hits[0].target_id in set(gold))
        share = self.settings.unanswerable_share
        weights = mix_weights([bool(g) for _, g in questions], share)
        label = fitted_on if share is None else f"{fitted_on}, unanswerable share {share:g}"
        calibration = fit_calibration(rows, correct, self.settings.target_precision, fitted_on=label,
                                      weights=weights)
        self.store.set_meta(CALIBRATION_SET_KEY, {"fitted_on": fitted_on.removesuffix(" (refit)"),
                                                  "questions": [[q, list(g)] for q, g in questions]})
        self.set_calibration(calibration)
        return calibration

    def recalibrate(self) -> Calibration:
        """Refit the confidence on the questions of the last ``fit_calibration`` (``kb calibrate`` without a
        file): learned phrasings and entries change the signals the confidence is computed from."""
        stored = self.store.get_meta(CALIBRATION_SET_KEY)
        if not stored:
            raise BadInput("no calibration questions stored yet: run `kb calibrate EVALFILE` once")
        questions = [(q, tuple(g)) for q, g in stored["questions"]]
        return self.fit_calibration(questions, fitted_on=f"{stored['fitted_on']} (refit)")

    def _sync(self) -> None:
        """Pick up what another process changed (calibration, fusion, demotions) without a restart."""
        if self.curator.poll():
            self.searcher.fusion, self.calibration = _stored_models(self.store)

    def _embed_texts(self, texts: Sequence[str], progress: ProgressFactory | None = None) -> np.ndarray:
        bar = progress(len(texts), "embedding") if progress else None
        parts = []
        for start in range(0, len(texts), 256):
            parts.append(self.embedder.embed_queries(list(texts[start : start + 256])))
            if bar:
                bar.update(len(parts[-1]))
        if bar:
            bar.close()
        return np.vstack(parts) if parts else np.zeros((0, self.embedder.dim), dtype=np.float32)

    def train_router(self, path: Path, text_field: str, label_field: str,
                     progress: ProgressFactory | None = None) -> TextClassifier:
        """Train the team classifier from labelled history and make it live (versioned in KB_HOME/models)."""
        texts, labels = read_labelled(path, text_field, label_field)
        version = (self.router.classifier.version + 1) if self.router.classifier else 1
        clf = train_text_classifier(texts, labels, self._embed_texts(texts, progress),
                                    embedder_id=self.embedder.model_id, version=version)
        clf.meta["source"] = str(path)
        clf.save(self.settings.home / "models" / "router")
        self.router.classifier = clf
        return clf

    def train_emotion(self, path: Path, text_field: str, label_field: str, positive: Sequence[str],
                      target_precision: float = 0.91, progress: ProgressFactory | None = None) -> TextClassifier:
        """Train the anger classifier (labels in ``positive`` vs the rest) on 80% of the rows, and derive the
        escalation threshold for ``target_precision`` on the other 20%."""
        texts, raw = read_labelled(path, text_field, label_field)
        wanted = {p.strip() for p in positive}
        labels = ["angry" if any(part.strip() in wanted for part in lab.split(",")) else "neutral" for lab in raw]
        if len(set(labels)) < 2:
            raise BadInput(f"{path}: no row has a label in {sorted(wanted)} (or every row has)")
        vectors = self._embed_texts(texts, progress)
        order = np.random.default_rng(0).permutation(len(texts))
        cut = int(len(order) * 0.8)
        train, val = order[:cut], order[cut:]
        clf = train_text_classifier([texts[i] for i in train], [labels[i] for i in train], vectors[train],
                                    class_weight="balanced", embedder_id=self.embedder.model_id)
        detector = EmotionDetector(clf, threshold=1.0)
        scores = [detector.score(texts[i], vectors[i]) for i in val]
        threshold = threshold_for_precision(scores, [labels[i] == "angry" for i in val], target_precision)
        clf.meta.update({"threshold": threshold, "target_precision": target_precision, "positive": sorted(wanted),
                         "source": str(path)})
        clf.save(self.settings.home / "models" / "emotion")
        self.emotion = EmotionDetector(clf, self.settings.emotion_threshold)
        return clf

    def feedback(self, body: FeedbackRequest) -> FeedbackResponse:
        """Record feedback on an answer (idempotent on ``feedback_id``) and learn from it: see ``Curator``."""
        return self.curator.feedback(body)

    def resolve(self, body: ResolutionRequest) -> ResolutionResponse:
        """An agent's resolution of a handed-off conversation (idempotent on ``resolution_id``)."""
        return self.curator.resolve(body)

    def gaps(self, days: int = 30, max_confidence: float = 0.5, similarity: float = 0.9,
             limit: int = 20) -> list[dict[str, Any]]:
        """Knowledge gaps: recent handed-off and low-confidence questions that no agent has resolved or
        answered with an entry yet, clustered by meaning and ranked by volume, so editors write the
        missing entries first."""
        import datetime as dt

        asks = self.store.recent_asks(dt.datetime.now(dt.UTC) - dt.timedelta(days=days), max_confidence,
                                      unresolved=True)
        if not asks:
            return []
        vectors = self._embed_texts([a.question for a in asks])
        clusters: list[list[int]] = []
        centroids: list[np.ndarray] = []
        for i, v in enumerate(vectors):
            sims = [float(c @ v) / float(np.linalg.norm(c)) for c in centroids]
            best = int(np.argmax(sims)) if sims else -1
            if best >= 0 and sims[best] >= similarity:
                clusters[best].append(i)
                centroids[best] = centroids[best] + v
            else:
                clusters.append([i])
                centroids.append(v.copy())
        out = []
        for members in sorted(clusters, key=lambda m: (-len(m), m[0]))[:limit]:
            examples = list(dict.fromkeys(asks[i].question for i in members))
            out.append({"count": len(members), "examples": examples[:5],
                        "decisions": dict(Counter(asks[i].decision for i in members)),
                        "mean_confidence": round(float(np.mean([asks[i].confidence for i in members])), 3),
                        "last_seen": max(asks[i].created_at for i in members).isoformat()})
        return out

    def set_fusion(self, fusion: FusionModel) -> None:
        self.store.set_meta(FUSION_KEY, fusion.model_dump())
        self.searcher.fusion = fusion
        self.curator.bump()

    # -- reading ----------------------------------------------------------------------------
    def search(
        self, query: str, top_k: int | None = None, filters: Filters | None = None, mode: Mode = "hybrid",
        timings: Timings | None = None,
    ) -> list[SearchHit]:
        k = self.settings.top_k if top_k is None else top_k
        return self.searcher.search(query, k, filters, mode=mode, timings=timings)

    def _decide(self, request: AskRequest) -> tuple[AskResponse, list[SearchHit], str]:
        """Retrieval and the decision, before any generation: (response, hits, query used)."""
        started = time.perf_counter()
        self._sync()
        timings = Timings()
        previous = (self.store.last_question(request.session_id, self.settings.session_ttl_s)
                    if request.session_id else None)
        query = contextualize(previous, request.question)
        t = time.perf_counter()
        vector = self.searcher.embed_query(query)
        timings.add("embed", t)
        hits = self.searcher.search(query, 10, request.filters, vector=vector, timings=timings)
        if self.reranker is not None:
            t = time.perf_counter()
            hits = self.reranker.rerank(query, hits)
            timings.add("rerank", t)
        hits = self.curator.demote(hits, vector)
        t = time.perf_counter()
        answer, decision, confidence, citations, related = decide(
            query, hits, self.calibration, self.settings.answer_threshold, self.tokenizer)
        timings.add("answer", t)
        t = time.perf_counter()
        emotion = self.emotion.detect(request.question, vector)
        route = self.router.route(request.question, vector, request.customer, escalate=emotion.escalate)
        timings.add("triage", t)
        if emotion.escalate and self.settings.escalate_handoff and decision != "handoff":
            answer, decision, citations = None, "handoff", []
        if request.session_id:
            self.store.remember_question(request.session_id, query)
        source: Literal["faq", "extract"] | None = None
        if answer is not None:
            source = "faq" if hits[0].entry_id else "extract"
        request_id = uuid.uuid4().hex
        self.store.log_ask(request_id, self.masker.mask(query).text, decision, confidence,
                           hits[0].target_id if hits else None)
        response = AskResponse(
            answer=answer, decision=decision, confidence=round(confidence, 4), citations=citations,
            related=related, request_id=request_id, answer_source=source, route=route, emotion=emotion,
            query=query if query != request.question.strip() else None,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            timings_ms={k: round(v, 3) for k, v in timings.stages.items()},
        )
        return response, hits, query

    def _passages(self, hits: Sequence[SearchHit]) -> list[Passage]:
        return [Passage(text=h.text, title=h.title or h.question) for h in hits[:3]]

    def ask(self, request: AskRequest) -> AskResponse:
        return self.ask_with_hits(request)[0]

    def ask_with_hits(self, request: AskRequest) -> tuple[AskResponse, list[SearchHit]]:
        """``ask`` plus the ranked hits it decided from (for evaluators: the same code path as the API)."""
        started = time.perf_counter()
        response, hits, query = self._decide(request)
        if self.generator is not None and response.decision == "answer" and hits and hits[0].doc_id:
            t = time.perf_counter()
            lang = detect_lang(request.question)
            try:
                generated = self.generator.generate(query, self._passages(hits), lang)
            except BackendError as exc:
                log.warning("generation failed, extractive answer kept: %s", exc)
                generated = None
            timings = dict(response.timings_ms, generate=round((time.perf_counter() - t) * 1000, 3))
            if generated is not None and generated.refused:
                response = response.model_copy(update={"answer": None, "decision": "handoff", "answer_source": None,
                                                       "citations": []})
            elif generated is not None:
                cited = [hits[i - 1] for i in generated.cited] or hits[:1]
                response = response.model_copy(update={
                    "answer": generated.text, "answer_source": "llm",
                    "citations": [citation_for(query, h, self.tokenizer) for h in cited]})
            response = response.model_copy(update={
                "timings_ms": timings, "latency_ms": round((time.perf_counter() - started) * 1000, 2)})
        return response, hits

    def ask_stream(self, request: AskRequest) -> Iterator[tuple[str, dict[str, Any]]]:
        """Server-sent events: ``meta`` (decision, citations...), ``delta`` pieces of the answer, ``done``."""
        response, hits, query = self._decide(request)
        yield "meta", response.model_dump(exclude={"answer"})
        if response.answer is None:
            yield "done", {"answer": None, "decision": response.decision}
            return
        if self.generator is not None and hits and hits[0].doc_id:
            pieces: list[str] = []
            try:
                for piece in self.generator.stream(query, self._passages(hits), detect_lang(request.question)):
                    pieces.append(piece)
                    yield "delta", {"text": piece}
            except BackendError as exc:
                log.warning("streaming generation failed, extractive answer sent: %s", exc)
                yield "fallback", {"text": response.answer}
                yield "done", {"answer": response.answer, "answer_source": response.answer_source}
                return
            text = "".join(pieces)
            refused = parse_generated(text, 3).refused
            yield "done", {"answer": None if refused else parse_generated(text, 3).text,
                           "decision": "handoff" if refused else "answer", "answer_source": "llm"}
            return
        yield "delta", {"text": response.answer}
        yield "done", {"answer": response.answer, "answer_source": response.answer_source}

    def stats(self) -> dict[str, Any]:
        counts = self.store.counts()
        return {
            **counts,
            "index_points": self.index.count(),
            "backend": "qdrant-server" if self.settings.qdrant_url else "qdrant-edge",
            "database": self.settings.database().split("://")[0],
            "manifest": self.manifest.model_dump(),
            "fusion": self.searcher.fusion.model_dump(),
            "calibration": self.calibration.model_dump() if self.calibration else None,
        }

    def ready(self) -> None:
        if self.index.count() == 0:
            raise NotReady("the knowledge base is empty: run `kb ingest PATH` first")
