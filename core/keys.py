"""API keys: the ``api_keys`` table and its repository (create, list, revoke, resolve to a ``Caller``).

A key reads ``skb_<key id>_<secret>``. Only the sha256 of the secret is stored (the secret has 256 bits of
entropy, so a plain hash is enough; no salt or slow hash is needed) and it is compared in constant time.
The key id is not secret: it names the key in ``kb keys list``, logs and the learning counts."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time

from pydantic import BaseModel

from core.caller import Caller, Role
from core.errors import BadInput, NotFound
from core.store.keys import KeyRepository, KeyRow

PREFIX = "skb"
_KEY = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{20,100}})$")
_DURATION = re.compile(r"^(\d{1,5})([hdw])$")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class KeyInfo(BaseModel):
    """What ``kb keys list`` shows: never the secret or its hash."""

    id: str
    name: str
    role: Role
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        now = _now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class NewKey(BaseModel):
    """A key just created: ``secret`` is shown once and cannot be recovered."""

    info: KeyInfo
    secret: str


def parse_expiry(value: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """``30d``, ``12h``, ``2w`` or an ISO date/datetime (UTC when no zone is given) -> when the key expires."""
    if value is None or not value.strip():
        return None
    now = now or _now()
    match = _DURATION.match(value.strip())
    if match:
        n, unit = int(match.group(1)), match.group(2)
        hours = {"h": 1, "d": 24, "w": 24 * 7}[unit]
        return now + dt.timedelta(hours=n * hours)
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"expiry must be like 30d, 12h, 2w or an ISO date, got {value!r}") from None
    when = _aware(when)
    if when <= now:
        raise BadInput(f"expiry {value!r} is in the past")
    return when


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: KeyRow) -> KeyInfo:
    return KeyInfo(id=row.id, name=row.name, role=Role(row.role), created_at=_aware(row.created_at),
                   expires_at=_aware(row.expires_at) if row.expires_at else None,
                   revoked_at=_aware(row.revoked_at) if row.revoked_at else None)


class KeyStore:
    """Creating, listing, revoking and checking keys (rows in ``store.keys``).

    ``cache_s`` > 0 keeps a checked key's row in memory that long (the server: a database read per request
    was a sixth of the CPU of a cached answer). Revoking through this store drops it at once; a key revoked
    by another process is refused within ``cache_s``. Expiry is checked on every request either way."""

    def __init__(self, repository: KeyRepository, cache_s: float = 0.0) -> None:
        self._rows = repository
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, KeyRow | None]] = {}

    def resolves_in_memory(self, presented: str) -> bool:
        """Whether ``resolve(presented)`` would read no store (a malformed key, or one checked within
        ``cache_s``): an event loop may then call it."""
        match = _KEY.match(presented)
        if not match:
            return True
        hit = self._cache.get(match.group(1)) if self._cache_s > 0 else None
        return hit is not None and time.monotonic() - hit[0] < self._cache_s

    def _row(self, key_id: str) -> KeyRow | None:
        if self._cache_s <= 0:
            return self._rows.get(key_id)
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and now - hit[0] < self._cache_s:
            return hit[1]
        row = self._rows.get(key_id)
        if len(self._cache) > 10_000:  # unknown ids are cached too: bound what a flood of them can hold
            self._cache.clear()
        self._cache[key_id] = (now, row)
        return row

    def create(self, name: str, role: Role, expires_at: dt.datetime | None = None) -> NewKey:
        name = name.strip()
        if not name or len(name) > 200:
            raise BadInput("a key needs a name of 1-200 characters")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        row = KeyRow(id=key_id, name=name, role=role.value, secret_sha256=_digest(secret), created_at=_now(),
                     expires_at=expires_at)
        self._rows.add(row)
        return NewKey(info=_info(row), secret=f"{PREFIX}_{key_id}_{secret}")

    def list(self) -> list[KeyInfo]:
        return [_info(r) for r in self._rows.all()]

    def revoke(self, key_id_or_name: str) -> KeyInfo:
        """Revoke by key id, or by name when exactly one active key has it."""
        row = self._rows.get(key_id_or_name)
        if row is None:
            named = self._rows.active_named(key_id_or_name)
            if len(named) > 1:
                raise BadInput(f"{len(named)} keys are named {key_id_or_name!r}: revoke one by its id")
            row = named[0] if named else None
        if row is None:
            raise NotFound(f"no such key: {key_id_or_name!r}")
        self._rows.revoke(row.id, _now())
        self._cache.pop(row.id, None)
        revoked = self._rows.get(row.id)
        assert revoked is not None
        return _info(revoked)

    def resolve(self, presented: str) -> Caller | None:
        """The caller a presented key stands for; None when it is malformed, unknown, wrong, expired or
        revoked (the caller is not told which)."""
        match = _KEY.match(presented)
        if not match:
            return None
        key_id, secret = match.groups()
        row = self._row(key_id)
        if row is None or not hmac.compare_digest(row.secret_sha256, _digest(secret)):
            return None
        info = _info(row)
        if not info.active:
            return None
        return Caller(key_id=info.id, name=info.name, role=info.role)
