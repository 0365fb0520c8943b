"""Repository of API keys (``store.keys``): the ``api_keys`` rows; hashing and checks live in ``core.keys``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, mapped_column

from .database import Database
from .tables import Base, now


class KeyRow(Base):
    """One API key: its id (public), name, role and the sha256 of its secret (never the secret)."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(20))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class KeyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, row: KeyRow) -> None:
        with self._db.session() as s, s.begin():
            s.add(row)

    def get(self, key_id: str) -> KeyRow | None:
        with self._db.session() as s:
            return s.get(KeyRow, key_id)

    def all(self) -> list[KeyRow]:
        with self._db.session() as s:
            return list(s.scalars(select(KeyRow).order_by(KeyRow.created_at, KeyRow.id)))

    def active_named(self, name: str) -> list[KeyRow]:
        with self._db.session() as s:
            return list(s.scalars(select(KeyRow).where(KeyRow.name == name, KeyRow.revoked_at.is_(None))))

    def revoke(self, key_id: str, when: dt.datetime) -> None:
        with self._db.session() as s, s.begin():
            row = s.get(KeyRow, key_id)
            if row is not None and row.revoked_at is None:
                row.revoked_at = when
