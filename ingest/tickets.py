"""Ticket exports (CSV/JSONL, one row per ticket or per message) and turning resolved tickets into
question/answer candidates for review.

The field mapping says which column is what; it comes from a small YAML/TOML file or ``--map key=column``
on the command line. Rows that cannot be a ticket (cut off, no customer text) are quarantined with the
reason and row number; nothing is dropped silently."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from core.errors import BadInput
from core.ids import content_hash
from ingest.clean import clean_message
from ingest.dedupe import near_duplicate_groups
from ingest.pii import PiiMasker
from ingest.readers import Quarantined
from ingest.records import read_records, record_format

RESOLVED = ("resolved", "closed", "solved", "closed with explanation", "closed with monetary relief",
            "closed with non-monetary relief", "已解决", "已关闭", "完成")
CHITCHAT = re.compile(r"^\s*(?:thanks?( you)?|thx|ok(?:ay)?|great|got it|bye|hello|hi|谢谢|好的|嗯|收到|再见|您好|在吗)"
                      r"[\s!.。！~]*$", re.IGNORECASE)


class TicketMapping(BaseModel):
    """Which column holds what. ``text`` is required; ``role`` switches to one row per message."""

    id: str
    text: str
    reply: str | None = None
    role: str | None = None
    agent_roles: list[str] = Field(default_factory=lambda: ["agent", "support", "staff", "客服"])
    status: str | None = None
    team: str | None = None
    created: str | None = None
    channel: str | None = None
    resolved_values: list[str] = Field(default_factory=lambda: list(RESOLVED))
    keep: list[str] = Field(default_factory=list, description="Other columns kept as metadata.")


def load_mapping(path: Path | None, pairs: Sequence[str] = ()) -> TicketMapping:
    data: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise BadInput(f"no such mapping file: {path}")
        try:
            raw = path.read_text(encoding="utf-8")
            data = tomllib.loads(raw) if path.suffix == ".toml" else (yaml.safe_load(raw) or {})
        except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
            raise BadInput(f"bad mapping file {path}: {exc}") from exc
    for pair in pairs:
        if "=" not in pair:
            raise BadInput(f"--map takes key=column, got {pair!r}")
        key, column = pair.split("=", 1)
        data[key.strip()] = column.strip()
    try:
        return TicketMapping.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"ticket mapping: {exc.errors()[0]['loc'][0]} {exc.errors()[0]['msg']}") from exc


class Ticket(BaseModel):
    id: str
    customer: list[str]
    agent: list[str] = Field(default_factory=list)
    status: str | None = None
    team: str | None = None
    created: str | None = None
    channel: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def resolved(self, values: Sequence[str]) -> bool:
        return (self.status or "").strip().lower() in {v.lower() for v in values}


class QACandidate(BaseModel):
    id: str
    question: str
    answer: str
    count: int
    examples: list[str]
    tickets: list[str]
    team: str | None = None
    status: str = "review"


def read_tickets(path: Path, mapping: TicketMapping, masker: PiiMasker, source: str) -> tuple[
        list[Ticket], list[Quarantined], str, dict[str, int]]:
    """Cleaned and PII-masked tickets, quarantined rows, the encoding, and PII counts."""
    if record_format(path) is None:
        raise BadInput(f"ticket exports must be .csv, .tsv or .jsonl: {path.name}")
    header, rows, decoded = read_records(path, strict_width=True)
    encoding = decoded.label()
    missing = [c for c in (mapping.id, mapping.text, mapping.reply, mapping.role, mapping.status) if c and
               header and c not in header]
    if missing:
        raise BadInput(f"{path}: mapped column(s) {missing} not in the file; columns: {header}")
    pii: dict[str, int] = {}
    bad: list[Quarantined] = []
    tickets: dict[str, Ticket] = {}

    def clean(value: Any) -> str:
        result = masker.mask(clean_message(str(value or "")))
        for kind, n in result.counts.items():
            pii[kind] = pii.get(kind, 0) + n
        return result.text

    for location, row, reason, _ in rows:
        if row is None:
            bad.append(Quarantined(source=source, location=location, reason=reason))
            continue
        ticket_id = str(row.get(mapping.id) or "").strip()
        body = clean(row.get(mapping.text))
        if not ticket_id:
            bad.append(Quarantined(source=source, location=location, reason=f"empty ticket id ({mapping.id})"))
            continue
        if not body:
            bad.append(Quarantined(source=source, location=location,
                                   reason=f"empty customer text ({mapping.text})", record=ticket_id))
            continue
        t = tickets.setdefault(ticket_id, Ticket(
            id=ticket_id, customer=[], status=row.get(mapping.status) if mapping.status else None,
            team=row.get(mapping.team) if mapping.team else None,
            created=row.get(mapping.created) if mapping.created else None,
            channel=row.get(mapping.channel) if mapping.channel else None,
            metadata={k: row.get(k) for k in mapping.keep if row.get(k) not in (None, "")}))
        is_agent = bool(mapping.role) and str(row.get(mapping.role or "", "")).strip().lower() in {
            r.lower() for r in mapping.agent_roles}
        (t.agent if is_agent else t.customer).append(body)
        if mapping.reply and row.get(mapping.reply):
            reply = clean(row.get(mapping.reply))
            if reply:
                t.agent.append(reply)
        if mapping.status and row.get(mapping.status):
            t.status = row.get(mapping.status)
    return list(tickets.values()), bad, encoding, pii


def _substantive(messages: Sequence[str]) -> list[str]:
    return [m for m in messages if not CHITCHAT.match(m) and len(m) >= 6]


def mine_candidates(tickets: Sequence[Ticket], mapping: TicketMapping, threshold: float = 0.6) -> list[QACandidate]:
    """Resolved tickets with a real customer question and agent answer, near-duplicates grouped."""
    pairs: list[tuple[Ticket, str, str]] = []
    for t in tickets:
        if not t.resolved(mapping.resolved_values):
            continue
        questions, answers = _substantive(t.customer), _substantive(t.agent)
        if questions and answers:
            pairs.append((t, questions[0], answers[-1]))
    groups = near_duplicate_groups([q for _, q, _ in pairs], threshold)
    out = []
    for group in groups:
        members = [pairs[i] for i in group]
        lead = members[0]
        out.append(QACandidate(
            id=f"cand-{content_hash(lead[1])}", question=lead[1], answer=lead[2], count=len(members),
            examples=[q for _, q, _ in members[:5]], tickets=[t.id for t, _, _ in members], team=lead[0].team))
    return sorted(out, key=lambda c: -c.count)
