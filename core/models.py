"""Domain records shared by ingest, retrieval and api. Immutable: copy with ``model_copy(update=...)``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

UnitKind = Literal["question", "answer", "chunk"]
"""What an index point holds: an FAQ question (or alternative phrasing), an FAQ question+answer
passage, or a document chunk."""

FILTER_FIELDS = ("category", "product", "lang", "source", "tags")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KnowledgeEntry(_Frozen):
    """One FAQ entry: a question with its answer and other ways customers ask it."""

    id: str
    question: str
    answer: str
    alt_questions: tuple[str, ...] = ()
    category: str | None = None
    product: str | None = None
    tags: tuple[str, ...] = ()
    lang: str | None = None
    source: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class Document(_Frozen):
    """A help-centre document, before chunking."""

    id: str
    title: str
    body: str
    format: Literal["markdown", "text", "html"] = "markdown"
    category: str | None = None
    product: str | None = None
    tags: tuple[str, ...] = ()
    lang: str | None = None
    source: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)


class Unit(_Frozen):
    """One point of the index: the text that is embedded and BM25-weighted, with its payload."""

    id: str
    kind: UnitKind
    text: str
    entry_id: str | None = None
    doc_id: str | None = None
    source: str = ""
    lang: str | None = None
    category: str | None = None
    product: str | None = None
    tags: tuple[str, ...] = ()
    title: str | None = None
    section: str | None = None
    position: int = 0
    char_start: int | None = None
    char_end: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The payload stored in the index (everything but the id)."""
        data = self.model_dump(exclude={"id"})
        data["tags"] = list(self.tags)
        data["unit_id"] = self.id
        return data

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Unit:
        data = dict(payload)
        data["id"] = data.pop("unit_id")
        data["tags"] = tuple(data.get("tags") or ())
        return cls.model_validate(data)


class Filters(_Frozen):
    """Metadata filters, applied inside the index. A list means "any of"."""

    category: list[str] | None = None
    product: list[str] | None = None
    lang: list[str] | None = None
    source: list[str] | None = None
    tags: list[str] | None = None

    @field_validator("category", "product", "lang", "source", "tags", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        if value is None or isinstance(value, list):
            return value
        if isinstance(value, (tuple, set)):
            return list(value)
        return [value]

    def items(self) -> list[tuple[str, list[str]]]:
        """The set conditions, in a fixed order."""
        out: list[tuple[str, list[str]]] = []
        for name in FILTER_FIELDS:
            values = getattr(self, name)
            if values:
                out.append((name, [str(v) for v in values]))
        return out

    def is_empty(self) -> bool:
        return not self.items()


class SearchHit(_Frozen):
    """A ranked search result: an FAQ entry (``entry_id``) or a document chunk (``doc_id``)."""

    entry_id: str | None = None
    doc_id: str | None = None
    chunk_id: str
    kind: UnitKind
    text: str
    score: float
    source: str = ""
    title: str | None = None
    question: str | None = None
    answer: str | None = None
    section: str | None = None
    char_start: int | None = None
    char_end: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    features: dict[str, float] = Field(default_factory=dict)

    @property
    def target_id(self) -> str:
        """The id evaluators score against: the entry id, else the document id."""
        return self.entry_id or self.doc_id or self.chunk_id
