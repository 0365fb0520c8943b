"""The owner's announcement and credential in KB_HOME, stale-file detection, and the workers rule."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from cli.serving import check_workers
from core.errors import BadInput
from core.settings import Settings
from service.ownership import (
    SERVER_FILE,
    announce,
    read_local_key,
    read_server_file,
    running_server,
    withdraw,
    write_local_key,
)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_announce_listening_then_withdraw(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        info = announce(tmp_path, url)
        assert (info.url, info.pid) == (url, os.getpid())
        assert running_server(tmp_path) == info
    assert running_server(tmp_path, starting_wait_s=0.2) is None  # alive but nothing answers: not usable
    assert read_server_file(tmp_path) == info  # ... and not removed: it may still be starting
    withdraw(tmp_path)
    assert not (tmp_path / SERVER_FILE).exists()


def test_a_crashed_servers_file_is_stale_and_removed(tmp_path: Path) -> None:
    info = announce(tmp_path, "http://127.0.0.1:9")
    (tmp_path / SERVER_FILE).write_text(info.model_copy(update={"pid": dead_pid()}).model_dump_json())
    assert running_server(tmp_path) is None
    assert not (tmp_path / SERVER_FILE).exists()
    (tmp_path / SERVER_FILE).write_text("{not json")
    assert running_server(tmp_path) is None


def test_local_key_is_private(tmp_path: Path) -> None:
    write_local_key(tmp_path, "skb_0123456789ab_secret")
    assert (tmp_path / "local.key").stat().st_mode & 0o777 == 0o600
    assert read_local_key(tmp_path) == "skb_0123456789ab_secret"
    assert read_local_key(tmp_path / "nowhere") is None


def test_workers_need_the_server_backends(tmp_path: Path) -> None:
    check_workers(Settings(home=tmp_path, workers=1))
    with pytest.raises(BadInput, match="Qdrant Edge allows one open shard per directory"):
        check_workers(Settings(home=tmp_path, workers=2))
    with pytest.raises(BadInput):
        check_workers(Settings(home=tmp_path, workers=2, qdrant_url="http://q:6333"))
    check_workers(Settings(home=tmp_path, workers=4, qdrant_url="http://q:6333",
                           database_url=SecretStr("postgresql+psycopg://postgres@127.0.0.1/test")))
