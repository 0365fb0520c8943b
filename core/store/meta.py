"""Repository of what the knowledge base stores about itself, under ``core.meta_keys.MetaKey`` (``store.meta``)."""

from __future__ import annotations

import json
from typing import Any

from .database import Database
from .tables import MetaRow


class MetaRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str) -> Any:
        with self._db.session() as s:
            row = s.get(MetaRow, str(key))
            return json.loads(row.value) if row else None

    def set(self, key: str, value: Any) -> None:
        with self._db.session() as s, s.begin():
            s.merge(MetaRow(key=str(key), value=json.dumps(value, ensure_ascii=False, sort_keys=True)))

    def delete(self, key: str) -> None:
        """Forget ``key`` (readers then see None, as before it was first set)."""
        with self._db.session() as s, s.begin():
            row = s.get(MetaRow, str(key))
            if row is not None:
                s.delete(row)
