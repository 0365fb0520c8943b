"""Content-derived ids: the same content always gets the same id, so re-ingest is an idempotent upsert."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid

_NAMESPACE = uuid.UUID("5b8f3c2e-6a41-4f0e-9a57-3d1f0c7e2b19")
_SPACE = re.compile(r"\s+")


def normalize_for_hash(text: str) -> str:
    """NFKC, lower-case, collapsed whitespace: cosmetic edits do not change an id."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def content_hash(*parts: str) -> str:
    """A short stable hex digest of the normalised parts."""
    h = hashlib.sha256()
    for part in parts:
        h.update(normalize_for_hash(part).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:16]


def point_uuid(key: str) -> str:
    """Qdrant point ids must be integers or UUIDs: map our string ids to UUIDv5."""
    return str(uuid.uuid5(_NAMESPACE, key))
