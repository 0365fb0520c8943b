"""A running server as the owner of its knowledge base: it runs the job worker, keeps the local admin credential
(an admin API key whose secret is in KB_HOME/local.key, mode 0600) and announces itself in KB_HOME/server.json,
all undone on a clean stop. The CLI on the same machine finds it there and sends its work to it."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from core.caller import Caller, Role
from core.keys import KeyStore
from core.settings import Settings
from service.job_handlers import handlers
from service.jobs import JobRunner
from service.knowledge_base import KnowledgeBase
from service.ownership import announce, local_url, read_local_key, withdraw, write_local_key

log = logging.getLogger(__name__)


def shared_backends(settings: Settings) -> bool:
    """Qdrant server and a database server: several processes and replicas may serve one knowledge base."""
    return bool(settings.qdrant_url and settings.database_url)


class ServerOwner:
    def __init__(self, settings: Settings, kb: KnowledgeBase, keys: KeyStore, announces: bool = True) -> None:
        self.settings = settings
        self.kb = kb
        self.keys = keys
        self.announces = announces
        self.jobs = JobRunner(kb, handlers())
        self.local_key_id: str | None = None

    @property
    def home(self) -> Path:
        return self.settings.home

    def start(self) -> None:
        self.jobs.start(exclusive=not shared_backends(self.settings))
        if self.announces:
            self.local_key_id = self._local_key()
            info = announce(self.home, local_url(self.settings.host, self.settings.port))
            log.info("serving %s at %s (pid %d); the CLI on this machine sends its work here", self.home,
                     info.url, info.pid)

    def stop(self) -> None:
        self.jobs.stop()
        if self.announces:
            withdraw(self.home)

    def is_local(self, caller: Caller) -> bool:
        """The caller presented the local credential (the owner of KB_HOME on this machine)."""
        return self.local_key_id is not None and caller.key_id == self.local_key_id

    def _local_key(self) -> str:
        """Reuse the admin key in KB_HOME/local.key while it is valid, else create one and write it there."""
        current = read_local_key(self.home)
        caller = self.keys.resolve(current) if current else None
        if caller is not None and caller.role == Role.admin:
            return caller.key_id
        new = self.keys.create(f"local CLI ({socket.gethostname()}:{self.home.resolve()})"[:200], Role.admin)
        write_local_key(self.home, new.secret)
        return new.info.id
