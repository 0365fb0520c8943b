"""Who is calling: the identity the API resolves from an API key and hands to the domain.

Learning rules count distinct callers (a key, an agent, a customer), never distinct ids a caller made up,
so one caller cannot demote an entry or promote a candidate alone."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class Role(StrEnum):
    """Roles nest: each may do what the one before it may, and more."""

    chatbot = "chatbot"
    agent = "agent"
    editor = "editor"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class Caller(BaseModel, frozen=True):
    """An authenticated caller: its key id (stable, not secret), key name and role. ``local`` is the CLI
    working on the knowledge base directly (no server), which may do everything."""

    key_id: str
    name: str
    role: Role

    @classmethod
    def local(cls) -> Caller:
        return cls(key_id="local", name="local", role=Role.admin)
