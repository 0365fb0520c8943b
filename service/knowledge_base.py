"""The knowledge base as one object: it opens the record, index and models once, wires the answering,
triage and learning rooms together, and owns their lifecycle. The CLI, the API and eval all use it;
it holds no business rules of its own (those live in answering/, triage/, learning/, ingest/)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from answering.cache import build_answer_cache
from answering.calibration import Calibration
from answering.fitting import AUTO_LABEL, CalibrationFitter, Labelled
from answering.generate import Generator, OpenAIGenerator
from answering.pipeline import Answerer
from answering.records import AskResult, Question
from answering.rerank import build_reranker
from core.caller import Caller
from core.errors import BadInput, NotReady
from core.manifest import Manifest
from core.meta_keys import MetaKey
from core.models import Filters, SearchHit
from core.progress import ProgressFactory
from core.settings import Settings
from core.store import Store
from ingest.chunking import CHUNKER_VERSION
from ingest.pii import PiiMasker
from ingest.pipeline import Ingestor, IngestReport
from ingest.tickets import TicketMapping
from learning.curator import Curator
from learning.gaps import find_gaps
from learning.labels import LabelsLearned
from learning.records import Feedback, FeedbackOutcome, Resolution, ResolutionOutcome
from learning.retention import Purged
from retrieval.batching import EmbeddingLRU, close_embedder, serving_embedder
from retrieval.bm25 import BM25Params
from retrieval.embed import Embedder, build_embedder, build_english_embedder
from retrieval.fusion import FusionModel
from retrieval.index import VectorIndex
from retrieval.index_paired import PairedIndex
from retrieval.products import ProductCatalog
from retrieval.searcher import HybridSearcher, Mode, Timings
from retrieval.tokenize import Tokenizer, TokenizerConfig, load_user_dict
from service.asklog import AskLogWriter
from service.backends import (
    USER_DICT_NAME,
    install_user_dict,
    load_model,
    open_english_index,
    open_index,
    secret,
    stored_models,
)
from triage.classifier import TextClassifier
from triage.emotion import EmotionDetector
from triage.routing import Router, load_routing_config
from triage.training import train_emotion, train_router

WARM_UP_QUESTIONS = ("How do I reset my password?", "我的订单什么时候发货？", "Can I get a refund for my order?",
                     "怎么联系人工客服", "where is my package", "账号被锁定了怎么办")
log = logging.getLogger(__name__)


class KnowledgeBase:
    def __init__(
        self, settings: Settings, store: Store, embedder: Embedder, tokenizer: Tokenizer, index: VectorIndex,
        manifest: Manifest, fusion: FusionModel, calibration: Calibration | None = None,
        english: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.english = english
        self.store = store
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.index = index
        self.manifest = manifest
        self.bm25 = BM25Params(k1=settings.bm25_k1, b=settings.bm25_b)
        self.searcher = HybridSearcher(embedder, tokenizer, index, fusion, candidates=settings.candidates,
                                       english=english)
        self.masker = PiiMasker()
        generator: Generator | None = (
            OpenAIGenerator(settings.llm_base_url, settings.llm_model, secret(settings.llm_api_key),
                            settings.llm_timeout_s)
            if settings.llm_base_url else None
        )
        self.curator = Curator(settings, store, embedder, self.masker, self.ingestor,
                               lambda q: self.searcher.search(q, 5))
        models = settings.home / "models"
        self.answerer = Answerer(
            settings=settings, store=store, searcher=self.searcher, tokenizer=tokenizer, masker=self.masker,
            router=Router(load_model(models / "router"), load_routing_config(settings.routing_config),
                          english=self.searcher.english_vector),
            emotion=EmotionDetector(load_model(models / "emotion"), settings.emotion_threshold),
            demote=self.curator.demote, calibration=calibration, reranker=build_reranker(settings),
            generator=generator,
        )
        self.answer_cache = build_answer_cache(settings.answer_cache_size, secret(settings.redis_url),
                                               settings.answer_cache_ttl_s,
                                               namespace=f"{settings.database()}|{settings.collection}",
                                               timeout_s=settings.answer_cache_timeout_s)
        self.ask_log = AskLogWriter(store, settings.ask_log_flush_rows, settings.ask_log_flush_ms)
        self.answerer.cache = self.answer_cache
        self._sync_lock = threading.Lock()
        self._synced_generation: Any = self.curator.generation
        self.products = ProductCatalog(store.entries.products, store.entries.product_texts)
        self.refresh_products()
        self._stored_data = (store.meta.get(MetaKey.fusion), store.meta.get(MetaKey.calibration))
        self.answerer.generation = lambda: self._synced_generation
        self.answerer.ask_log = self.ask_log.log
        self.ask_observers: list[Callable[[AskResult], None]] = []
        """Called with every answer (the API's metrics)."""
        self.fitter = CalibrationFitter(store, self.searcher, self.curator.demote, settings.target_precision,
                                        settings.unanswerable_share,
                                        mask=lambda text: self.masker.mask(text).text,
                                        clarify_precision=settings.clarify_precision,
                                        handoff_recall=settings.handoff_recall,
                                        precision_confidence=settings.precision_confidence,
                                        absent_share=settings.absent_entry_share)

    # The live models are the answerer's: these views keep one place that holds them.
    @property
    def calibration(self) -> Calibration | None:
        return self.answerer.calibration

    @calibration.setter
    def calibration(self, calibration: Calibration | None) -> None:
        """In memory only (tests, what-if evaluation); ``set_calibration`` also stores it."""
        self.answerer.calibration = calibration

    @property
    def router(self) -> Router:
        return self.answerer.router

    @property
    def emotion(self) -> EmotionDetector:
        return self.answerer.emotion

    @emotion.setter
    def emotion(self, detector: EmotionDetector) -> None:
        self.answerer.emotion = detector

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def open(
        cls, settings: Settings, *, embedder: Embedder | None = None, index: VectorIndex | None = None,
        allow_mismatch: bool = False, for_ingest: bool = False, english: Embedder | None = None,
    ) -> KnowledgeBase:
        """Load every part once. ``allow_mismatch`` is for ``kb reindex``, which rebuilds a mismatched index.
        ``english`` replaces the English embedder the settings name (benchmarks pass a caching one)."""
        settings.home.mkdir(parents=True, exist_ok=True)
        install_user_dict(settings)
        store = Store(settings.database())
        emb = embedder or build_embedder(settings)
        emb.warm_up()
        emb = serving_embedder(emb, settings)
        emb.warm_up()
        second = (english or build_english_embedder(settings)) if settings.english_embedder != "none" else None
        if second is not None:
            second.warm_up()
            if settings.query_cache_size > 0:
                second = EmbeddingLRU(second, settings.query_cache_size)
        user_dict = settings.config_dir / USER_DICT_NAME
        words = load_user_dict(user_dict) if user_dict.is_file() else ()
        tokenizer = Tokenizer(TokenizerConfig(zh_mode=settings.zh_mode, user_words=words))
        tokenizer.warm_up()
        manifest = Manifest(
            embedding_model=emb.model_id, dim=emb.dim, tokenizer=tokenizer.config.fingerprint(),
            bm25_k1=settings.bm25_k1, bm25_b=settings.bm25_b, chunker_version=CHUNKER_VERSION,
            english_model=second.model_id if second is not None else "",
        )
        stored = store.meta.get(MetaKey.manifest)
        if stored is not None and not allow_mismatch:
            previous = Manifest.model_validate(stored)
            if for_ingest and previous.model_copy(update={"chunker_version": CHUNKER_VERSION}) == manifest:
                # only the chunker changed: re-ingesting re-chunks every document (source hashes include it)
                store.meta.set(MetaKey.manifest, manifest.model_dump())
            else:
                manifest.check_against(previous)
        if stored is None:
            store.meta.set(MetaKey.manifest, manifest.model_dump())
        idx = index or open_index(settings, emb.dim)
        if second is not None:
            idx = PairedIndex(idx, open_english_index(settings, second.dim, idx))
        fusion, calibration = stored_models(store)
        return cls(settings, store, emb, tokenizer, idx, manifest, fusion, calibration, second)

    def close(self) -> None:
        self.ask_log.close()  # first: every queued ask reaches the record
        close_embedder(self.embedder)
        self.searcher.cohesion.close()
        self.index.close()
        self.store.close()

    # -- writing ----------------------------------------------------------------------------
    def ingestor(self) -> Ingestor:
        fingerprint = "|".join(str(v) for v in self.manifest.model_dump().values())
        return Ingestor(
            self.store, self.embedder, self.tokenizer, self.index, self.bm25, fingerprint,
            self.settings.chunk_max_tokens, self.settings.chunk_overlap_tokens,
            quarantine_path=self.settings.home / "quarantine.jsonl", on_commit=self.curator.bump,
            answer_max_tokens=self.settings.answer_unit_max_tokens, english=self.english,
        )

    def ingest(self, paths: Sequence[Path], prune: bool = False, progress: ProgressFactory | None = None,
               names: Mapping[Path, str] | None = None) -> IngestReport:
        """``names``: source names for files that are not where their owner sees them (a server's uploads)."""
        report = self.ingestor().ingest(paths, prune=prune, progress_factory=progress, names=names)
        self.refresh_products()
        if self.settings.auto_calibrate and (report.units_added or report.units_removed):
            report.calibration = self._calibrate_after_ingest(report)
        return report

    def _calibrate_after_ingest(self, report: IngestReport) -> str | None:
        """``kb calibrate --auto`` after an ingest, where ``CalibrationFitter.after_ingest`` calls for it."""
        try:
            cal = self.fitter.after_ingest(report.units_added + report.units_removed, self.index.count())
        except BadInput as exc:
            log.info("no automatic calibration after ingest: %s", exc)
            if self.calibration is not None and self.calibration.fitted_on.startswith(AUTO_LABEL):
                self.store.meta.delete(MetaKey.calibration)  # no longer fits this knowledge base
                _, self.answerer.calibration = stored_models(self.store)  # the package default
                self.curator.bump()
            return f"confidence: package default in use ({exc})"
        if cal is None:
            return None
        self.set_calibration(cal)
        return (f"confidence calibrated without labels (kb calibrate --auto): precision {cal.dev_precision} "
                f"at coverage {cal.dev_coverage}, out of fold")

    def refresh_products(self, force: bool = True) -> None:
        """Re-read the product names product-scoped search matches (``ProductCatalog.refresh``); unless
        ``force``d (an ingest in this process), only when the set of names changed."""
        matcher = self.products.refresh(force)
        if matcher is not None:
            self.searcher.products = matcher

    def ingest_tickets(self, paths: Sequence[Path], mapping: TicketMapping,
                       names: Mapping[Path, str] | None = None) -> IngestReport:
        """Ticket exports: cleaned and masked into the record, resolved tickets mined into review candidates."""
        ingestor = self.ingestor()
        report = IngestReport()
        started = time.perf_counter()
        for path in paths:
            if not path.is_file():
                raise BadInput(f"no such ticket export: {path}")
            ingestor.ingest_tickets(path, mapping, report, self.settings.promote_min_tickets,
                                    uri=(names or {}).get(path))
        report.seconds = time.perf_counter() - started
        return report

    def reindex(self, progress: ProgressFactory | None = None) -> int:
        n = self.ingestor().reindex(progress)
        self.store.meta.set(MetaKey.manifest, self.manifest.model_dump())
        return n

    def set_calibration(self, calibration: Calibration) -> None:
        self.store.meta.set(MetaKey.calibration, calibration.model_dump())
        self.answerer.calibration = calibration
        self.curator.bump()

    def learn_labelled(self, questions: Labelled, origin: str = "labels", actor: str | None = None) -> LabelsLearned:
        """Labelled questions as phrasings of their entries (``kb calibrate FILE --learn`` does this first, see
        ``learning.labels``); a following ``fit_calibration`` scores each without the phrasing it became."""
        learned = self.curator.learn_labelled(questions, origin, actor)
        self.refresh_products(force=False)
        return learned

    def fit_calibration(self, questions: Labelled, fitted_on: str = "") -> Calibration:
        """Fit the confidence on labelled questions and make it live (see ``CalibrationFitter``)."""
        calibration = self.fitter.fit(questions, fitted_on)
        self.set_calibration(calibration)
        return calibration

    def auto_calibrate(self) -> Calibration:
        """Fit the confidence with no labelled questions (``kb calibrate --auto``, see ``CalibrationFitter.auto``)."""
        calibration = self.fitter.auto()
        self.set_calibration(calibration)
        return calibration

    def recalibrate(self) -> Calibration:
        """Refit on the stored questions after the knowledge base has learned (``kb calibrate``, no file)."""
        calibration = self.fitter.refit()
        self.set_calibration(calibration)
        return calibration

    def set_fusion(self, fusion: FusionModel) -> None:
        self.store.meta.set(MetaKey.fusion, fusion.model_dump())
        self.searcher.fusion = fusion
        self.curator.bump()

    def _sync(self) -> None:
        """Pick up what another process changed (calibration, fusion, demotions) without a restart.

        The generation the answer cache keys on is published only after the models of that generation are
        loaded, and the models are reloaded only when their stored data changed (a calibration set in
        memory for a what-if evaluation survives an edit or an ingest)."""
        self.curator.poll()
        generation = self.curator.generation
        if generation == self._synced_generation:
            return
        with self._sync_lock:
            if generation == self._synced_generation:
                return
            stored = (self.store.meta.get(MetaKey.fusion), self.store.meta.get(MetaKey.calibration))
            if stored != self._stored_data:
                self.searcher.fusion, self.answerer.calibration = stored_models(self.store)
                self._stored_data = stored
            self.refresh_products(force=False)
            self.searcher.cohesion.reload()
            self._synced_generation = generation

    def train_router(self, path: Path, text_field: str, label_field: str,
                     progress: ProgressFactory | None = None) -> TextClassifier:
        """Train the team classifier from labelled history and make it live (versioned in KB_HOME/models)."""
        current = self.router.classifier
        clf = train_router(self.embedder, path, text_field, label_field,
                           version=(current.version + 1) if current else 1, progress=progress, english=self.english)
        clf.save(self.settings.home / "models" / "router")
        self.answerer.router.classifier = clf
        return clf

    def train_emotion(self, path: Path, text_field: str, label_field: str, positive: Sequence[str],
                      target_precision: float = 0.91, progress: ProgressFactory | None = None) -> TextClassifier:
        """Train the anger classifier and its escalation threshold, and make it live."""
        clf = train_emotion(self.embedder, path, text_field, label_field, positive, target_precision, progress)
        clf.save(self.settings.home / "models" / "emotion")
        self.answerer.emotion = EmotionDetector(clf, self.settings.emotion_threshold)
        return clf

    # -- learning ---------------------------------------------------------------------------
    def feedback(self, feedback: Feedback, caller: Caller | None = None) -> FeedbackOutcome:
        """Record feedback on an answer (idempotent on ``feedback_id``) and learn from it: see ``Curator``."""
        self.ask_log.flush()  # the ask it refers to may still be queued
        return self.curator.feedback(feedback, caller)

    def resolve(self, resolution: Resolution, caller: Caller | None = None) -> ResolutionOutcome:
        """An agent's resolution of a handed-off conversation (idempotent on ``resolution_id``)."""
        self.ask_log.flush()
        return self.curator.resolve(resolution, caller)

    def purge(self, now: dt.datetime | None = None) -> Purged:
        """Delete asks, feedback and sessions past retention (``KB_RETENTION_DAYS``, ``KB_SESSION_TTL_S``)."""
        self.ask_log.flush()
        return self.curator.purge_expired(now)

    def gaps(self, days: int = 30, max_confidence: float = 0.5, similarity: float = 0.9,
             limit: int = 20) -> list[dict[str, Any]]:
        self.ask_log.flush()
        return find_gaps(self.store, self.embedder, days, max_confidence, similarity, limit)

    # -- reading ----------------------------------------------------------------------------
    def search(
        self, query: str, top_k: int | None = None, filters: Filters | None = None, mode: Mode = "hybrid",
        timings: Timings | None = None,
    ) -> list[SearchHit]:
        k = self.settings.top_k if top_k is None else top_k
        return self.searcher.search(query, k, filters, mode=mode, timings=timings)

    def ask(self, question: Question) -> AskResult:
        return self.ask_with_hits(question)[0]

    def ask_cached(self, question: Question) -> AskResult | None:
        """``ask`` when the answer cache holds the question and nothing on the way may block (no store read is
        due, see ``Answerer.decide_cached``); None, with nothing done, otherwise. For an event loop, which
        then sends the question to ``ask`` in a worker thread."""
        if self.curator.poll_due() or self.curator.generation != self._synced_generation:
            return None
        found = self.answerer.decide_cached(question)
        if found is None:
            return None
        result = found[0]
        for observe in self.ask_observers:
            observe(result)
        return result

    def ask_with_hits(self, question: Question) -> tuple[AskResult, list[SearchHit]]:
        """``ask`` plus the ranked hits it decided from (for evaluators: the same code path as the API)."""
        self._sync()
        result, hits = self.answerer.ask_with_hits(question)
        for observe in self.ask_observers:
            observe(result)
        return result, hits

    def ask_stream(self, question: Question) -> Iterator[tuple[str, dict[str, Any]]]:
        self._sync()
        return self.answerer.ask_stream(question)

    def stats(self) -> dict[str, Any]:
        counts = self.store.counts()
        return {
            **counts,
            "index_points": self.index.count(),
            "english_points": self.index.english_count() if isinstance(self.index, PairedIndex) else 0,
            "backend": "qdrant-server" if self.settings.qdrant_url else "qdrant-edge",
            "database": self.settings.database().split("://")[0],
            "manifest": self.manifest.model_dump(),
            "fusion": self.searcher.fusion.model_dump(),
            "calibration": self.calibration.model_dump() if self.calibration else None,
        }

    def warm_up(self) -> None:
        """A few questions (English and Chinese) through the whole path: embedder, index, tokenizer,
        decision, classifiers, snownlp. The API runs it before it reports ready; nothing is logged."""
        if self.settings.warm_up_asks == 0 or self.index.count() == 0:
            return
        self._sync()
        self.index.warm()
        self.searcher.cohesion.load_all()
        self.answerer.warm_up(WARM_UP_QUESTIONS[: self.settings.warm_up_asks])

    def ready(self) -> None:
        if self.index.count() == 0:
            raise NotReady("the knowledge base is empty: run `kb ingest PATH` first")
