"""``store.jobs`` on SQLite and Postgres: one running job at a time, the claim race has one winner, cancel and
the interrupted-job sweep."""

from __future__ import annotations

import datetime as dt
import threading

from core.store import JobRow, Store


def queued(job_id: str, minute: int) -> JobRow:
    return JobRow(id=job_id, kind="ingest", state="queued", params={"paths": []}, created_by="eve", done=0, total=0,
                  label="", cancel_requested=False, created_at=dt.datetime(2026, 1, 1, 0, minute, tzinfo=dt.UTC))


def test_claims_are_one_at_a_time_oldest_first(store_url: str) -> None:
    store = Store(store_url)
    try:
        store.jobs.add(queued("b", 2))
        store.jobs.add(queued("a", 1))
        first = store.jobs.claim("w1")
        assert first is not None and (first.id, first.state, first.worker) == ("a", "running", "w1")
        assert store.jobs.claim("w2") is None  # "a" is running: "b" waits
        store.jobs.finish("a", "done", result={"entries": 1})
        second = store.jobs.claim("w2")
        assert second is not None and second.id == "b"
        assert store.jobs.get("a").result == {"entries": 1}  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_claim_race_has_one_winner(store_url: str) -> None:
    store = Store(store_url)
    try:
        for i in range(3):
            store.jobs.add(queued(f"j{i}", i))
        won: list[str] = []
        barrier = threading.Barrier(4)

        def claim(worker: str) -> None:
            barrier.wait()
            row = store.jobs.claim(worker)
            if row is not None:
                won.append(row.id)

        threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert won == ["j0"]
        assert [r.id for r in store.jobs.with_state("running")] == ["j0"]
    finally:
        store.close()


def test_cancel_and_interrupted_sweep(store_url: str) -> None:
    store = Store(store_url)
    try:
        store.jobs.add(queued("q", 1))
        store.jobs.add(queued("r", 0))
        assert store.jobs.claim("host:1:x") is not None  # "r" runs
        assert store.jobs.request_cancel("q").state == "cancelled"  # type: ignore[union-attr]
        running = store.jobs.request_cancel("r")
        assert running is not None and running.state == "running" and running.cancel_requested
        assert store.jobs.progress("r", 5, 10, "faq.csv") is True  # the worker learns of the cancel
        assert store.jobs.request_cancel("nope") is None
        assert store.jobs.fail_interrupted(["host:1:x"], "interrupted") == 1
        row = store.jobs.get("r")
        assert row is not None and (row.state, row.error_code, row.done, row.total) == ("failed", "interrupted", 5, 10)
    finally:
        store.close()
