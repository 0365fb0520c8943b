"""Who owns a knowledge base: a running server announces itself in KB_HOME/server.json (URL, pid, host, start
time; removed on a clean exit, recognised as stale after a crash) and keeps the local admin credential the CLI
on the same machine presents to it in KB_HOME/local.key (readable by its owner only)."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

SERVER_FILE = "server.json"
LOCAL_KEY_FILE = "local.key"


class ServerInfo(BaseModel):
    url: str
    pid: int
    host: str
    started_at: str


def _write_private(path: Path, text: str, mode: int) -> None:
    """Write ``text`` atomically to ``path`` with ``mode`` (the file never exists with wider permissions)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def announce(home: Path, url: str) -> ServerInfo:
    """This process serves ``home`` at ``url``."""
    info = ServerInfo(url=url, pid=os.getpid(), host=socket.gethostname(),
                      started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    home.mkdir(parents=True, exist_ok=True)
    _write_private(home / SERVER_FILE, info.model_dump_json(), 0o644)
    return info


def withdraw(home: Path) -> None:
    """Remove the announcement if it is this process's (a clean exit)."""
    info = read_server_file(home)
    if info is not None and info.pid == os.getpid() and info.host == socket.gethostname():
        (home / SERVER_FILE).unlink(missing_ok=True)


def read_server_file(home: Path) -> ServerInfo | None:
    try:
        return ServerInfo.model_validate(json.loads((home / SERVER_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def port_answers(url: str, timeout_s: float = 1.0) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def running_server(home: Path, starting_wait_s: float = 30.0) -> ServerInfo | None:
    """The live server announced for ``home``; None when there is none or the announcement is stale: its
    process is gone (a stale file of this machine is removed), or nothing answers on its port (a live process
    of this machine gets ``starting_wait_s`` to finish opening the knowledge base and listen)."""
    info = read_server_file(home)
    if info is None:
        return None
    if info.host == socket.gethostname():
        if not pid_alive(info.pid):
            (home / SERVER_FILE).unlink(missing_ok=True)
            return None
        deadline = time.monotonic() + starting_wait_s
        while not port_answers(info.url):
            if time.monotonic() > deadline or not pid_alive(info.pid):
                return None
            time.sleep(0.2)
        return info
    return info if port_answers(info.url) else None


def write_local_key(home: Path, key: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    _write_private(home / LOCAL_KEY_FILE, key + "\n", 0o600)


def read_local_key(home: Path) -> str | None:
    try:
        return (home / LOCAL_KEY_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def local_url(host: str, port: int) -> str:
    """The URL the CLI on this machine uses for a server bound to ``host``."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
