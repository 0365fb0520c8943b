"""What an index was built with. Stored in the system of record; opening with anything else is refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from core.errors import IndexMismatch


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)
    embedding_model: str
    dim: int
    tokenizer: str
    bm25_k1: float
    bm25_b: float
    chunker_version: str
    english_model: str = ""
    """The second (English) embedder's model id; empty when there is none (and in manifests from before it)."""

    def check_against(self, stored: Manifest) -> None:
        """Raise ``IndexMismatch`` naming every difference between the stored and configured build."""
        diffs = [
            f"{name}: index has {getattr(stored, name)!r}, configured {getattr(self, name)!r}"
            for name in type(self).model_fields
            if getattr(stored, name) != getattr(self, name)
        ]
        if diffs:
            raise IndexMismatch(
                "the index was built differently from the current configuration ("
                + "; ".join(diffs)
                + "). Either configure the original model/tokenizer, or run `kb reindex` to rebuild the index "
                "from the system of record with the current configuration (after a chunker change, run "
                "`kb ingest` on the documents again instead: it re-chunks them)."
            )
