"""The ``kb`` command end to end (fake embedder): exit codes, --json output, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.ticket_samples import HUB_FIX, write_hub_tickets


def kb(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KB_HOME": str(home), "KB_EMBEDDER": "fake", "KB_ENGLISH_EMBEDDER": "none"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env)


def test_cli_ingest_search_ask_stats(tmp_path: Path) -> None:
    faq = tmp_path / "faq.csv"
    faq.write_text("id,question,answer,alt_questions,lang\n"
                   "inv-1,怎么开发票,在订单详情页点击申请发票。,发票怎么开|能开专票吗,zh\n"
                   "bad-1,,no question,,en\n", encoding="utf-8")
    home = tmp_path / "kb"
    r = kb(home, "ingest", str(faq), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["entries"] == 1 and report["quarantined"][0]["reason"] == "missing question"

    r = kb(home, "search", "怎么开发票", "--json", "--filter", "lang=zh")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["entry_id"] == "inv-1"

    r = kb(home, "ask", "怎么开发票", "--json")
    assert r.returncode == 0, r.stderr
    assert set(json.loads(r.stdout)) >= {"answer", "decision", "confidence", "citations", "related", "request_id"}

    r = kb(home, "stats", "--json")
    assert json.loads(r.stdout)["entries"] == 1


def test_cli_errors_have_messages_and_codes(tmp_path: Path) -> None:
    r = kb(tmp_path / "kb", "ingest", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "no such file or folder" in r.stderr
    r = kb(tmp_path / "kb", "search", "x", "--filter", "colour=red")
    assert r.returncode == 2 and "unknown filter 'colour'" in r.stderr


def test_cli_fit_fusion_and_calibrate(tmp_path: Path) -> None:
    from tests.conftest import SAMPLE

    home = tmp_path / "kb"
    assert kb(home, "ingest", str(SAMPLE / "faq.jsonl")).returncode == 0
    r = kb(home, "fit-fusion", str(SAMPLE / "eval.jsonl"))
    assert r.returncode == 0 and r.stdout.startswith("fusion fitted on ")
    r = kb(home, "calibrate", str(SAMPLE / "eval.jsonl"))
    assert r.returncode == 0 and "answer threshold" in r.stdout and len(r.stdout.splitlines()) == 1
    r = kb(home, "calibrate", str(SAMPLE / "eval.jsonl"), "--learn")
    assert r.returncode == 0 and "answer threshold" in r.stdout
    # the dev questions with one FAQ entry as gold became its phrasings (the documents are not ingested here)
    assert r.stdout.splitlines()[1].startswith("learned 62 labelled question(s) as phrasings of 60 entries "
                                               "(not learned: 21 not an entry, 2 rejected duplicate, ")
    stats = json.loads(kb(home, "stats", "--json").stdout)
    assert stats["fusion"]["kind"] in {"rrf", "linear"} and stats["calibration"]["n"] == 99
    r = kb(home, "calibrate", "--learn")
    assert r.returncode == 2 and "--learn needs a labelled file" in r.stderr
    r = kb(home, "calibrate", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "no such evaluation file" in r.stderr


def test_cli_review_approve_history_rollback(tmp_path: Path) -> None:
    """Ticket-mined candidates reviewed from the command line, through to a rollback."""
    path = write_hub_tickets(tmp_path / "tickets.csv")
    home = tmp_path / "kb"
    r = kb(home, "ingest", str(path), "--tickets", "--map", "id=id", "--map", "text=q", "--map", "reply=a",
           "--map", "status=status")
    assert r.returncode == 0, r.stderr
    r = kb(home, "review", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [c["count"] for c in listed["candidates"]] == [2, 1] and listed["flagged"] == []
    top = listed["candidates"][0]
    assert top["answer"] == HUB_FIX and top["consistency"] == 1.0
    r = kb(home, "review")
    assert "2x" in r.stdout and "Reset the hub" in r.stdout

    r = kb(home, "review", "approve", top["id"], "--by", "eve", "--answer", "Hold reset for 10 s, then pair.",
           "--json")
    assert r.returncode == 0, r.stderr
    entry_id = json.loads(r.stdout)["entry_id"]
    r = kb(home, "ask", "hub blinking red after changing my router", "--json")
    asked = json.loads(r.stdout)
    # answered from the approved entry, or (not sure enough) offered it first
    assert [c["entry_id"] for c in asked["citations"] + asked["related"]][:1] == [entry_id], asked

    assert kb(home, "review", "edit", entry_id, "--by", "eve", "--answer", "New answer.").returncode == 0
    r = kb(home, "review", "rollback", entry_id, "1", "--by", "eve")
    assert r.returncode == 0 and "rollback to v1 by eve" in r.stdout, r.stdout + r.stderr
    r = kb(home, "review", "history", entry_id, "--json")
    history = json.loads(r.stdout)
    assert history["answer"] == "Hold reset for 10 s, then pair."
    assert [v["provenance"] for v in history["versions"]] == ["approved", "edited", "rollback to v1"]
    r = kb(home, "review", "history", entry_id)
    assert "v3" in r.stdout and "rollback to v1" in r.stdout

    other = listed["candidates"][1]["id"]
    r = kb(home, "review", "reject", other, "--by", "eve", "--note", "too specific")
    assert r.returncode == 0 and "rejected" in r.stdout
    r = kb(home, "review", "reject", other, "--by", "eve")
    assert r.returncode == 2 and "already rejected" in r.stderr
    r = kb(home, "review", "rollback", "nope", "1", "--by", "eve")
    assert r.returncode == 3 and "no entry" in r.stderr


def test_cli_bad_configuration_and_arguments_are_messages_not_tracebacks(tmp_path: Path) -> None:
    env = {**os.environ, "KB_HOME": str(tmp_path / "kb"), "KB_EMBEDDER": "fake", "KB_ENGLISH_EMBEDDER": "none",
           "KB_PROMOTE_POLICY": "bogus"}
    r = subprocess.run([sys.executable, "-m", "cli.main", "stats"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "invalid configuration: promote_policy" in r.stderr
    assert "Traceback" not in r.stderr
    for garbage in ("1.5", "0", "most"):  # a precision is in (0, 1]
        env = {**os.environ, "KB_HOME": str(tmp_path / "kb"), "KB_EMBEDDER": "fake", "KB_ENGLISH_EMBEDDER": "none",
               "KB_CLARIFY_PRECISION": garbage}
        r = subprocess.run([sys.executable, "-m", "cli.main", "stats"], capture_output=True, text=True, env=env)
        assert r.returncode == 2 and "invalid configuration: clarify_precision" in r.stderr, garbage
        assert "Traceback" not in r.stderr
    new_settings = [("KB_PRECISION_CONFIDENCE", "1.5", "precision_confidence"),  # a confidence is in [0.5, 1)
                    ("KB_PRECISION_CONFIDENCE", "0.2", "precision_confidence"),
                    ("KB_AUTO_CALIBRATE", "maybe", "auto_calibrate"),
                    ("KB_ABSENT_ENTRY_SHARE", "-0.1", "absent_entry_share"),
                    ("KB_ABSENT_ENTRY_SHARE", "abc", "absent_entry_share"),
                    ("KB_EMBED_THREADS", "0", "embed_threads"),
                    ("KB_RATE_LIMITS", "1000/second", # not JSON: pydantic-settings' own error
                     'error parsing value for field "rate_limits"')]
    for var, garbage, field in new_settings:
        env = {**os.environ, "KB_HOME": str(tmp_path / "kb"), "KB_EMBEDDER": "fake", "KB_ENGLISH_EMBEDDER": "none",
               var: garbage}
        r = subprocess.run([sys.executable, "-m", "cli.main", "stats"], capture_output=True, text=True, env=env)
        assert r.returncode == 2 and f"invalid configuration: {field}" in r.stderr, (var, garbage)
        assert "Traceback" not in r.stderr
    env = {**os.environ, "KB_HOME": str(tmp_path / "kb"), "KB_EMBEDDER": "fake", "KB_ENGLISH_EMBEDDER": "bert"}
    r = subprocess.run([sys.executable, "-m", "cli.main", "stats"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "invalid configuration: english_embedder" in r.stderr
    assert "Traceback" not in r.stderr
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the model cache should be", encoding="utf-8")
    env = {**os.environ, "KB_HOME": str(tmp_path / "kb2"), "KB_EMBEDDER": "fake", "KB_MODEL_CACHE": str(blocker / "x")}
    r = subprocess.run([sys.executable, "-m", "cli.main", "stats"], capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "KB_MODEL_CACHE" in r.stderr and "Traceback" not in r.stderr
    r = kb(tmp_path / "kb", "review", "rollback", "pw", "not-a-number", "--by", "eve")
    assert r.returncode == 2 and "Invalid value for 'version'" in r.stderr and "Traceback" not in r.stderr
    r = kb(tmp_path / "kb", "calibrate")
    assert r.returncode == 2 and "no calibration questions stored yet" in r.stderr


def test_cli_purge_deletes_only_what_is_past_retention(tmp_path: Path) -> None:
    import datetime as dt

    from sqlalchemy import update

    from core.settings import Settings
    from core.store import Store
    from core.store.tables import AskRow

    faq = tmp_path / "faq.csv"
    faq.write_text("id,question,answer\nrf-1,How long does a refund take?,Three working days.\n", encoding="utf-8")
    home = tmp_path / "kb"
    assert kb(home, "ingest", str(faq)).returncode == 0
    old = json.loads(kb(home, "ask", "refund time?", "--json").stdout)["request_id"]
    new = json.loads(kb(home, "ask", "how long for a refund", "--json").stdout)["request_id"]
    database = Settings(home=home).database()
    store = Store(database)
    with store.db.session() as s, s.begin():
        s.execute(update(AskRow).where(AskRow.request_id == old).values(
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=91)))
    store.close()
    r = kb(home, "purge", "--json")
    assert r.returncode == 0, r.stderr
    assert {k: v for k, v in json.loads(r.stdout).items() if k != "before"} == {"asks": 1, "feedback": 0,
                                                                              "sessions": 0}
    r = kb(home, "purge")
    assert r.returncode == 0 and r.stdout.startswith("purged 0 asks, 0 feedback, 0 sessions"), r.stdout
    r = kb(tmp_path / "nowhere", "purge")
    assert r.returncode == 2 and "no knowledge base at" in r.stderr and "Traceback" not in r.stderr
    store = Store(database)
    assert store.asks.get(old) is None and store.asks.get(new) is not None
    store.close()
