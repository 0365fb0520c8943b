"""API key checks cached in memory by the server (``KB_KEY_CACHE_S``): revocation and expiry still hold."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from core.caller import Role
from core.keys import KeyStore
from core.store import Store


def test_cached_keys_still_honour_revocation_and_expiry(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    server = KeyStore(store.keys, cache_s=0.3)  # the server's view
    cli = KeyStore(store.keys)  # another process: `kb keys revoke`
    key = cli.create("bot", Role.chatbot)
    assert server.resolve(key.secret) is not None and server.resolve(key.secret) is not None

    cli.revoke(key.info.id)  # revoked elsewhere: refused once the cached row is older than cache_s
    assert server.resolve(key.secret) is not None
    time.sleep(0.35)
    assert server.resolve(key.secret) is None

    other = server.create("bot2", Role.chatbot)
    assert server.resolve(other.secret) is not None
    server.revoke(other.info.id)  # revoked through the server: refused at once
    assert server.resolve(other.secret) is None

    soon = cli.create("bot3", Role.chatbot, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.2))
    assert server.resolve(soon.secret) is not None
    time.sleep(0.25)  # still cached, but expiry is checked on every request
    assert server.resolve(soon.secret) is None
    assert server.resolve(soon.secret.replace(soon.secret[-3:], "xyz")) is None
    store.close()
