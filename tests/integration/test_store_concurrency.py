"""Two processes writing learning events (feedback on asks) at once into one database lose nothing: on
PostgreSQL (the scale-out path: several API replicas on one database) and on SQLite in WAL mode."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.store import AskRow, FeedbackRow, Store
from tests.postgres import fresh_schema

PER_PROCESS = 150


def _write(url: str, worker: int, start: object) -> None:
    store = Store(url)  # both open at once: the second waits for the first's migration (advisory lock)
    start.wait()  # type: ignore[attr-defined]
    for i in range(PER_PROCESS):
        request_id = f"w{worker}-r{i}"
        store.asks.log(request_id, f"question {i}", "answer", 0.9, "e1")
        store.learning.add_feedback(FeedbackRow(id=f"w{worker}-f{i}", request_id=request_id, helpful=i % 2 == 0,
                                                answered_id="e1", outcome=""))
    store.close()


@pytest.fixture(params=["postgres", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    else:
        with fresh_schema() as pg:
            yield pg


def test_two_processes_writing_feedback_lose_nothing(url: str) -> None:
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_write, args=(url, w, start)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    store = Store(url)
    with store.db.session() as s:
        assert s.scalar(select(func.count()).select_from(FeedbackRow)) == 2 * PER_PROCESS
        assert s.scalar(select(func.count()).select_from(AskRow)) == 2 * PER_PROCESS
    assert len(store.learning.negative_feedback("e1")) == PER_PROCESS
    store.close()
