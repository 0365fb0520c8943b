"""Real, dirty data from ../shared/data: CFPB complaints as a ticket export, ABCD guidelines as documents."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from eval.datasets import abcd_guidelines
from ingest.pii import PiiMasker
from ingest.tickets import TicketMapping, load_mapping, mine_candidates, read_tickets
from ingest.units import document_units
from service.knowledge_base import KnowledgeBase
from tests.ticket_samples import HUB_FIX, HUB_MAP, write_hub_tickets

CFPB_MAP = {"id": "Complaint ID", "text": "Consumer complaint narrative", "status": "Company response to consumer",
            "team": "Product", "created": "Date received", "channel": "Submitted via", "keep": ["Issue", "State"]}


def test_cfpb_narratives_quarantine_and_readable_redactions(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "cfpb_complaints" / "complaints_sample.csv"
    raw = path.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(raw)))
    header, body = rows[0], rows[1:]
    col = header.index("Consumer complaint narrative")
    with_text = sum(1 for r in body if len(r) == len(header) and r[col].strip())
    mapping = TicketMapping.model_validate(CFPB_MAP)
    tickets, bad, encoding, _ = read_tickets(path, mapping, PiiMasker(), "cfpb")
    assert encoding == "utf-8" and len(tickets) == with_text
    reasons = [q.reason for q in bad]
    assert reasons[-1].startswith("truncated row:") and "cut off" in reasons[-1]
    assert sum(r.startswith("empty customer text") for r in reasons) == len(body) - with_text - 1
    assert len(tickets) + len(bad) == len(body)  # nothing dropped silently
    texts = " ".join(t.customer[0] for t in tickets)
    assert "[REDACTED]" in texts and "XXXX" not in texts
    assert "{$" not in texts and "$2400.00" in texts  # {$2400.00} amounts become readable money
    assert mine_candidates(tickets, mapping) == []  # complaints carry no agent answer to learn from

    kb = KnowledgeBase.open(__import__("core.settings", fromlist=["Settings"]).Settings(
        home=tmp_path / "kb", embedder="fake", english_embedder="none"))
    mapfile = tmp_path / "cfpb.yaml"
    mapfile.write_text(json.dumps(CFPB_MAP), encoding="utf-8")  # JSON is valid YAML
    report = kb.ingest_tickets([path], load_mapping(mapfile))
    assert report.tickets == with_text and len(report.quarantined) == len(body) - with_text
    assert kb.store.counts()["tickets"] == with_text
    again = kb.ingest_tickets([path], load_mapping(mapfile))
    assert again.unchanged == 1 and kb.store.counts()["tickets"] == with_text
    kb.close()


def test_resolved_tickets_become_grouped_candidates(tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    msgs = [
        ("t1", "customer", "My hub keeps blinking red after I changed my router", "resolved"),
        ("t1", "agent", "Hold the reset hole for 10 seconds and pair the hub again on 2.4 GHz.", "resolved"),
        ("t1", "customer", "thanks!", "resolved"),
        ("t2", "customer", "my hub keeps blinking red after changing the router!", "closed"),
        ("t2", "agent", "Please reset the hub (10 seconds) and pair it again on 2.4 GHz.", "closed"),
        ("t3", "customer", "Where is my parcel? Call me on 13812345678", "open"),
        ("t3", "agent", "It ships tomorrow.", "open"),
        ("t4", "customer", "ok", "resolved"),
        ("t4", "agent", "Glad to help.", "resolved"),
    ]
    path.write_text("\n".join(json.dumps({"ticket": t, "role": r, "body": b, "state": s, "queue": "tech"})
                              for t, r, b, s in msgs), encoding="utf-8")
    mapping = load_mapping(None, ["id=ticket", "text=body", "role=role", "status=state", "team=queue"])
    tickets, bad, _, pii = read_tickets(path, mapping, PiiMasker(), "s")
    assert not bad and pii == {"PHONE": 1}
    assert "[PHONE]" in next(t for t in tickets if t.id == "t3").customer[0]
    cands = mine_candidates(tickets, mapping)
    assert len(cands) == 1  # t3 unresolved, t4 chit-chat only; t1 and t2 ask the same thing
    assert cands[0].count == 2 and cands[0].tickets == ["t1", "t2"] and cands[0].status == "review"
    assert cands[0].answer.startswith("Hold the reset hole")


def test_promotion_policy_puts_frequent_answers_live(tmp_path: Path) -> None:
    from core.settings import Settings

    path = write_hub_tickets(tmp_path / "tickets.csv")
    mapping = load_mapping(None, HUB_MAP)
    review = KnowledgeBase.open(Settings(home=tmp_path / "review", embedder="fake",
                                           english_embedder="none"))
    review.ingest_tickets([path], mapping)
    assert review.store.counts()["entries"] == 0 and len(review.store.learning.candidates("review")) == 2
    review.close()
    live = KnowledgeBase.open(Settings(home=tmp_path / "live", embedder="fake", english_embedder="none",
                                         promote_min_tickets=2))
    live.ingest_tickets([path], mapping)
    assert [c.count for c in live.store.learning.candidates("promoted")] == [2]
    assert [c.count for c in live.store.learning.candidates("review")] == [1]
    hit = live.search("hub blinking red after router change", 1)[0]
    assert hit.answer == HUB_FIX
    live.close()


def test_abcd_guidelines_become_chunked_documents(shared_data: Path) -> None:
    docs = abcd_guidelines(shared_data)
    assert len(docs) == 10
    chunks = [u for d in docs for u in document_units(d)]
    assert len(chunks) > len(docs)
    assert all(u.section and u.text.startswith(u.title or "") for u in chunks)
    refunds = [u for u in chunks if u.doc_id == "abcd-product-defect"]
    assert any("Initiate Refund" in (u.section or "") for u in refunds)
