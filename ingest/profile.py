"""``kb profile``: measure how dirty the data is before anything is written.

Per file: records, encoding, languages, empty / garbled / duplicate / near-duplicate rates, HTML and
signature prevalence, PII hits by kind, text length distribution, field fill rates (tabular files) and
the rows that would be quarantined, with the reasons. Nothing is written to the knowledge base."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInput
from core.ids import normalize_for_hash
from core.text import detect_lang
from ingest.clean import _DISCLAIMER, _SIGNATURE_START
from ingest.dedupe import near_duplicate_groups
from ingest.encoding import Decoded, decode
from ingest.formats.html import html_blocks
from ingest.formats.partitioned import PARTITIONED_SUFFIXES
from ingest.pii import PiiMasker
from ingest.readers import DOC_SUFFIXES, FAQ_SUFFIXES, discover, read_document, read_faq
from ingest.records import read_records, record_format
from ingest.tickets import TicketMapping, read_tickets

_HTML = re.compile(r"<(?:p|div|br|span|table|a|html|body|td|li)\b[^>]*>", re.IGNORECASE)
_MOJIBAKE = re.compile(r"\ufffd|Ã.|â€|Â |锟斤拷|ï»¿")
NEAR_DUP_LIMIT = 3000
BINARY_SUFFIXES = {".pdf", ".docx", ".xlsx", ".eml", ".msg", ".pptx", ".epub", ".odt"}


def _texts_and_fields(rows: Sequence[dict[str, Any]], text: str, mapping: TicketMapping | None) -> tuple[
        list[str], dict[str, float]]:
    fill: dict[str, float] = {}
    if rows:
        columns = sorted({k for r in rows for k in r})
        fill = {c: round(sum(1 for r in rows if str(r.get(c) or "").strip()) / len(rows), 4) for c in columns}
    if mapping is not None:
        texts = [str(r.get(mapping.text) or "") for r in rows]
    elif rows:
        texts = [f"{r.get('question') or ''} {r.get('answer') or ''}".strip() for r in rows]
    else:
        texts = [text]
    return texts, fill


def _encoding(decoded: Decoded) -> dict[str, Any]:
    """The codec, how sure the detection is, and how many bytes could not be decoded (replaced)."""
    return {"encoding": decoded.encoding, "encoding_confidence": decoded.confidence,
            "replaced_bytes": decoded.replaced}


def _read(path: Path, mapping: TicketMapping | None, rows: list[dict[str, Any]], text: str,
          out: dict[str, Any]) -> tuple[list[str], dict[str, float], list[dict[str, str]]]:
    """The texts to measure, field fill rates and the records that would be quarantined, by file kind."""
    suffix = path.suffix.lower()
    if mapping is not None:
        out["kind"] = "tickets"
        _, bad, _, _ = read_tickets(path, mapping, PiiMasker(patterns=()), str(path))
        return (*_texts_and_fields(rows, text, mapping), [q.model_dump() for q in bad])
    if suffix in FAQ_SUFFIXES:
        out["kind"] = "faq"
        entries, bad, _ = read_faq(path, str(path))
        if suffix == ".xlsx":
            return [f"{e.question} {e.answer}" for e in entries], {}, [q.model_dump() for q in bad]
        return (*_texts_and_fields(rows, text, None), [q.model_dump() for q in bad])
    if suffix in DOC_SUFFIXES:
        out["kind"] = "document"
        try:
            doc, _ = read_document(path, str(path))
        except BadInput as exc:
            return [], {}, [{"source": str(path), "location": "file", "reason": str(exc), "record": ""}]
        if suffix in PARTITIONED_SUFFIXES:  # the body is HTML written from the elements: measure the words
            return ["\n\n".join(b.text for b in html_blocks(doc.body))], {}, []
        return [doc.body], {}, []
    raise BadInput(f"unsupported file type {suffix}")


def profile_file(path: Path, masker: PiiMasker, mapping: TicketMapping | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"file": str(path), "bytes": path.stat().st_size}
    suffix = path.suffix.lower()
    text = ""
    rows: list[dict[str, Any]] = []
    try:
        if record_format(path) is not None:
            _, records, decoded = read_records(path)
            text = decoded.text
            out.update(_encoding(decoded))
            rows = [r.data for r in records if r.data is not None]
        elif suffix in DOC_SUFFIXES and suffix not in BINARY_SUFFIXES:
            out.update(_encoding(decode(path.read_bytes())))
        else:
            out["encoding"] = suffix[1:]
    except BadInput as exc:
        return {**out, "error": str(exc)}
    try:
        texts, fill, quarantined = _read(path, mapping, rows, text, out)
    except BadInput as exc:
        return {**out, "error": str(exc)}
    n = len(texts)
    nonempty = [t for t in texts if t.strip()]
    lengths = np.asarray([len(t) for t in nonempty] or [0])
    keys = Counter(normalize_for_hash(t) for t in nonempty)
    sample = nonempty[:NEAR_DUP_LIMIT]
    near = sum(len(g) - 1 for g in near_duplicate_groups(sample, 0.8)) if len(sample) > 1 else 0
    pii: Counter[str] = Counter()
    for t in nonempty:
        pii.update(masker.mask(t).counts)

    def rate(count: int) -> float:
        return round(count / n, 4) if n else 0.0

    out.update(
        {
            "records": n,
            "languages": dict(Counter(detect_lang(t[:500]) for t in nonempty)),
            "empty_rate": rate(n - len(nonempty)),
            "garbled_rate": rate(sum(1 for t in nonempty if _MOJIBAKE.search(t))),
            "duplicate_rate": rate(sum(c - 1 for c in keys.values())),
            "near_duplicate_rate": round(near / len(sample), 4) if sample else 0.0,
            "html_rate": rate(sum(1 for t in nonempty if _HTML.search(t))),
            "signature_rate": rate(
                sum(
                    1
                    for t in nonempty
                    if any(_SIGNATURE_START.match(ln) for ln in t.splitlines()[1:]) or _DISCLAIMER.search(t)
                )
            ),
            "pii": dict(pii),
            "length_chars": {
                "p10": int(np.percentile(lengths, 10)),
                "p50": int(np.percentile(lengths, 50)),
                "p90": int(np.percentile(lengths, 90)),
                "max": int(lengths.max()),
            },
            "field_fill": fill,
            "quarantine": {
                "count": len(quarantined),
                "reasons": dict(Counter(q["reason"].split(":")[0].split(" (")[0] for q in quarantined)),
                "examples": quarantined[:20],
            },
        }
    )
    return out


def profile(paths: Sequence[Path], mapping: TicketMapping | None = None) -> dict[str, Any]:
    masker = PiiMasker()
    files = [profile_file(p, masker, mapping) for p in discover(paths)]
    total = sum(f.get("records", 0) for f in files)
    pii: Counter[str] = Counter()
    for f in files:
        pii.update(f.get("pii", {}))
    return {
        "files": files,
        "totals": {
            "files": len(files),
            "records": total,
            "quarantined": sum(f.get("quarantine", {}).get("count", 0) for f in files),
            "pii": dict(pii),
        },
    }


def _confidence(f: dict[str, Any]) -> str:
    notes = []
    unicode = ("utf-8", "utf-8-sig", "utf-16", "utf-32")
    if "encoding_confidence" in f and (f["encoding_confidence"] < 1.0 or f.get("encoding") not in unicode):
        notes.append(f"confidence {f['encoding_confidence']:.2f}")
    if f.get("replaced_bytes"):
        notes.append(f"{f['replaced_bytes']} bytes replaced")
    return f" ({', '.join(notes)})" if notes else ""


def summary(report: dict[str, Any]) -> str:
    lines = []
    for f in report["files"]:
        if "error" in f:
            lines.append(f"{f['file']}: ERROR {f['error']}")
            continue
        lines.append(
            f"{f['file']} [{f['kind']}, {f['encoding']}{_confidence(f)}]: {f['records']} records, "
            f"languages {f['languages']}, "
            f"empty {f['empty_rate']:.1%}, garbled {f['garbled_rate']:.1%}, duplicates {f['duplicate_rate']:.1%}, "
            f"near-duplicates {f['near_duplicate_rate']:.1%}, HTML {f['html_rate']:.1%}, "
            f"signatures {f['signature_rate']:.1%}, PII {f['pii'] or 'none'}, length p50 {f['length_chars']['p50']}, "
            f"would quarantine {f['quarantine']['count']} {f['quarantine']['reasons'] or ''}"
        )
    t = report["totals"]
    lines.append(f"total: {t['files']} files, {t['records']} records, {t['quarantined']} to quarantine, PII {t['pii']}")
    return "\n".join(lines)


def html_report(report: dict[str, Any]) -> str:
    rows = []
    for f in report["files"]:
        cells = [
            f.get("file"),
            f.get("kind"),
            f.get("encoding"),
            f.get("records"),
            f.get("empty_rate"),
            f.get("garbled_rate"),
            f.get("duplicate_rate"),
            f.get("near_duplicate_rate"),
            f.get("html_rate"),
            f.get("signature_rate"),
            json.dumps(f.get("pii"), ensure_ascii=False),
            json.dumps(f.get("quarantine", {}).get("reasons"), ensure_ascii=False),
            f.get("error", ""),
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    head = [
        "file",
        "kind",
        "encoding",
        "records",
        "empty",
        "garbled",
        "duplicates",
        "near-duplicates",
        "HTML",
        "signatures",
        "PII",
        "quarantine-reasons",
        "error",
    ]
    return (
        "<!doctype html><meta charset='utf-8'><title>supportkb data profile</title><style>td,th{border:1px "
        "solid #ccc;padding:2px 6px;font:13px sans-serif}table{border-collapse:collapse}</style>"
        "<h1>Data profile</h1><table><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table><h2>Totals</h2><pre>"
        + html.escape(json.dumps(report["totals"], ensure_ascii=False, indent=1))
        + "</pre>"
    )
