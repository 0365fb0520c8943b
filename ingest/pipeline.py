"""The ingest run: files to entries and documents, written to the index and the record, incrementally.

Files -> entries/documents -> units -> embeddings + BM25 vectors -> index, recorded in the system of
record. Incremental (unchanged sources are skipped, changed ones diffed by unit id) and idempotent
(content-derived ids, index written before the record, so a crash is repaired by re-running); the write of
one source is ``ingest/writer.py``."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from core.errors import BadInput
from core.injection import find_injection
from core.models import Document, KnowledgeEntry, Unit
from core.progress import Progress, ProgressFactory
from core.store import Store, VersionRecord
from core.text import detect_lang
from ingest.dedupe import merge_duplicate_entries
from ingest.indexing import STATS_KEY, UnitIndexer, VectorCache
from ingest.pii import PiiMasker
from ingest.readers import DOC_SUFFIXES, FAQ_SUFFIXES, Quarantined, discover, read_document, read_faq
from ingest.tickets import TicketMapping, mine_candidates, read_tickets
from ingest.units import (
    LEARNED_SOURCE,
    all_entry_units,
    from_snapshot,
    learned_of,
    snapshot,
)
from ingest.writer import SourceWriter
from retrieval.bm25 import BM25Params
from retrieval.embed import Embedder
from retrieval.index import VectorIndex
from retrieval.tokenize import Tokenizer

log = logging.getLogger(__name__)
OPTIMIZE_AFTER_UNITS = 5000  # a run that indexed this many units ends with the index's optimize()

class IngestReport(BaseModel):
    files: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    entries: int = 0
    documents: int = 0
    units_added: int = 0
    units_removed: int = 0
    quarantined: list[Quarantined] = Field(default_factory=list)
    encodings: dict[str, str] = Field(default_factory=dict)
    pii_masked: dict[str, int] = Field(default_factory=dict)
    merged_duplicates: int = 0
    tickets: int = 0
    candidates: int = 0
    seconds: float = 0.0
    calibration: str | None = None
    """What the ingest did to the answer confidence (an automatic calibration after it), if anything."""

    def summary(self) -> str:
        return (
            f"{self.files} files: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed, {self.failed} failed; {self.entries} entries, {self.documents} documents; "
            f"{self.units_added} units indexed, {self.units_removed} removed; "
            f"{self.merged_duplicates} duplicate entries merged; {self.tickets} tickets, "
            f"{self.candidates} answer candidates for review; {len(self.quarantined)} records quarantined; "
            f"PII masked: {', '.join(f'{k} {v}' for k, v in sorted(self.pii_masked.items())) or 'none'}; "
            f"{self.seconds:.1f}s" + (f"; {self.calibration}" if self.calibration else "")
        )


class Ingestor:
    def __init__(
        self, store: Store, embedder: Embedder, tokenizer: Tokenizer, index: VectorIndex,
        bm25: BM25Params, build_fingerprint: str, chunk_max_tokens: int = 220, chunk_overlap_tokens: int = 40,
        quarantine_path: Path | None = None, masker: PiiMasker | None = None,
        on_commit: Callable[[], None] | None = None, answer_max_tokens: int | None = None,
        english: Embedder | None = None,
    ) -> None:
        self.store = store
        self.on_commit = on_commit
        """Called after every change reaches the record (the knowledge base bumps its generation, so answer
        caches of every replica stop serving what changed)."""
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.index = index
        self.bm25 = bm25
        self.fingerprint = build_fingerprint
        self.chunk_max_tokens = chunk_max_tokens
        self.chunk_overlap_tokens = chunk_overlap_tokens
        self.quarantine_path = quarantine_path
        self.masker = masker or PiiMasker()
        self.indexer = UnitIndexer(embedder, tokenizer, index, bm25, store, answer_max_tokens=answer_max_tokens,
                                   english=english)

    # -- vectors ----------------------------------------------------------------------------
    def embed_units(
        self, units: Sequence[Unit], progress: Progress | None = None, batch: int = 64, avgdl: float | None = None,
    ) -> None:
        """Embed (once per distinct text in a run), BM25-weight and upsert units into the index, in batches.
        ``avgdl`` fixes the average length (reindex); otherwise the running average is used and updated."""
        for start in range(0, len(units), batch):
            part = units[start : start + batch]
            self.indexer.upsert(part, avgdl=avgdl)
            if progress:
                progress.update(len(part))

    # -- sources ----------------------------------------------------------------------------
    def _parse(self, path: Path, uri: str, report: IngestReport) -> tuple[str, list[KnowledgeEntry], list[Document]]:
        suffix = path.suffix.lower()
        if suffix in FAQ_SUFFIXES:
            entries, bad, decoded = read_faq(path, uri)
            entries, merged = merge_duplicate_entries(entries)
            report.merged_duplicates += len(merged)
            report.quarantined.extend(bad)
            report.encodings[uri] = decoded.label()
            owners = self.store.entries.owners([e.id for e in entries])
            kept = []
            for e in entries:
                owner = owners.get(e.id)
                injected = find_injection(" \n".join((e.question, e.answer, *e.alt_questions)))
                if injected:
                    report.quarantined.append(Quarantined(
                        source=uri, location=f"id {e.id}", reason=f"prompt-injection phrasing: {injected!r}"))
                elif owner is not None and owner != uri:
                    report.quarantined.append(Quarantined(
                        source=uri, location=f"id {e.id}", reason=f"entry id already belongs to {owner}"))
                else:
                    kept.append(e)
            return "faq", kept, []
        if suffix in DOC_SUFFIXES:
            doc, decoded = read_document(path, uri)
            report.encodings[uri] = decoded.label()
            injected = find_injection(doc.body)
            if injected:
                report.quarantined.append(Quarantined(source=uri, location="file",
                                                      reason=f"prompt-injection phrasing: {injected!r}"))
                return "document", [], []
            return "document", [], [doc]
        raise BadInput(f"unsupported file type: {path}")

    def ingest_file(self, path: Path, report: IngestReport, progress_factory: ProgressFactory | None = None,
                    uri: str | None = None) -> None:
        """``uri`` names the source (default: the resolved path; a server names an uploaded file as its client does)."""
        uri = uri or str(path.resolve())
        try:
            raw = path.read_bytes()
        except OSError as exc:
            report.failed += 1
            report.quarantined.append(Quarantined(source=uri, location="file", reason=f"cannot read: {exc}"))
            return
        digest = hashlib.sha256(raw + self.fingerprint.encode()).hexdigest()[:32]
        previous = self.store.sources.content_hash(uri)
        if previous == digest:
            report.unchanged += 1
            return
        try:
            kind, entries, documents = self._parse(path, uri, report)
        except BadInput as exc:
            report.failed += 1
            report.quarantined.append(Quarantined(source=uri, location="file", reason=str(exc)))
            return
        except Exception as exc:  # broad on purpose: a malformed file the parser did not expect is quarantined
            log.debug("parsing %s failed", uri, exc_info=True)
            report.failed += 1
            reason = " ".join(f"cannot parse: {type(exc).__name__}: {exc}".split())[:500]
            report.quarantined.append(Quarantined(source=uri, location="file", reason=reason))
            return
        self.write_source(uri, kind, digest, entries, documents, report, progress_factory, label=path.name,
                          previous=previous)

    def write_source(
        self, uri: str, kind: str, digest: str, entries: Sequence[KnowledgeEntry], documents: Sequence[Document],
        report: IngestReport, progress_factory: ProgressFactory | None = None, label: str = "",
        previous: str | None = None,
    ) -> None:
        """Make the index and the record hold exactly these entries/documents for ``uri``.

        Only units whose content-derived id is new are embedded; units that disappeared are deleted.
        The index is written first and the record last, so an interrupted run is finished by the next."""
        entries, documents = self._mask(entries, documents, report)
        entries, statuses, versions = self._curated(uri, entries)
        writer = SourceWriter(self.store, self.index, self.indexer, report.quarantined.append,
                              self.chunk_max_tokens, self.chunk_overlap_tokens)
        gone = sorted(set(self.store.sources.entry_ids(uri)) - {e.id for e in entries})
        units = writer.units(uri, entries, documents, statuses)
        todo = len([u for u in units if u.id not in self.store.sources.unit_ids(uri)])
        progress = progress_factory(todo, label or uri) if progress_factory and todo else None
        try:
            written = writer.write(uri, kind, digest, entries, documents, statuses, versions, units, progress)
        finally:
            if progress:
                progress.close()
        entries, documents = written.entries, written.documents
        self._refresh_learned([e for e in entries if statuses.get(e.id) != "retired"])
        for entry_id in gone:  # entries removed from their file take their learned phrasings with them
            self.index.delete(self.store.entries.remove_units(entry_id))
        if gone:
            self.index.flush()
        self._committed()
        report.units_added += written.embedded
        report.units_removed += written.removed
        report.entries += len(entries)
        report.documents += len(documents)
        if previous is None:
            report.added += 1
        else:
            report.updated += 1

    def _mask(self, entries: Sequence[KnowledgeEntry], documents: Sequence[Document],
              report: IngestReport) -> tuple[list[KnowledgeEntry], list[Document]]:
        """PII masked out of every text before it reaches a unit, the index or the record."""

        def clean(text: str) -> str:
            result = self.masker.mask(text)
            for kind, n in result.counts.items():
                report.pii_masked[kind] = report.pii_masked.get(kind, 0) + n
            return result.text

        masked_entries = [e.model_copy(update={"question": clean(e.question), "answer": clean(e.answer),
                                               "alt_questions": tuple(clean(q) for q in e.alt_questions)})
                          for e in entries]
        masked_docs = [d.model_copy(update={"body": clean(d.body)}) for d in documents]
        return masked_entries, masked_docs

    def _curated(self, uri: str, entries: Sequence[KnowledgeEntry]) -> tuple[
            list[KnowledgeEntry], dict[str, str], list[VersionRecord]]:
        """Editors' work survives re-ingesting a file: an entry whose content in the file is unchanged since
        its last import keeps its current version (edits, rollbacks) and status (flagged, retired); an entry
        the file changed takes the file's content, goes live, and its demotions end. New and changed entries
        get an ``imported`` version in their history."""
        ids = [e.id for e in entries]
        stored = self.store.entries.statuses(ids)
        latest = self.store.entries.latest_snapshots(ids)
        out: list[KnowledgeEntry] = []
        statuses: dict[str, str] = {}
        versions: list[VersionRecord] = []
        changed: list[str] = []
        for e in entries:
            known = stored.get(e.id)
            snap = latest.get(e.id)
            if known is not None and known[1] == str(e.metadata.get("_hash", "")):
                statuses[e.id] = known[0]
                if snap is not None:
                    kept, _, _ = from_snapshot(snap)
                    out.append(kept.model_copy(update={"source": uri}))
                    continue
            elif known is not None:
                changed.append(e.id)
            learned = learned_of(self.store.entries.units(e.id)) if known is not None else []
            state = snapshot(e, learned, statuses.get(e.id, "live"))
            if snap is None or snap != state:
                versions.append(VersionRecord(e.id, state, "imported", uri))
            out.append(e)
        if changed:
            self.store.learning.clear_demotions(changed)
        return out, statuses, versions

    def apply_entry(self, entry: KnowledgeEntry, learned: list[dict[str, str]], status: str,
                    provenance: str, actor: str | None = None, note: str | None = None) -> int | None:
        """Make one entry exactly this (its own units plus learned phrasings; none when retired), in the index
        first and then in the record with a new version. Only changed units are embedded."""
        units = [] if status == "retired" else all_entry_units(entry, learned)
        old = {u.id: u for u in self.store.entries.units(entry.id)}
        changed = [u for u in units if old.get(u.id) != u]
        removed = sorted(set(old) - {u.id for u in units})
        self.embed_units(changed)
        self.index.delete(removed)
        self.index.flush()
        version = self.store.entries.save(
            entry, units, status, VersionRecord(entry.id, snapshot(entry, learned, status), provenance, actor, note))
        self._committed()
        return version

    def _committed(self) -> None:
        if self.on_commit is not None:
            self.on_commit()

    def _refresh_learned(self, entries: Sequence[KnowledgeEntry]) -> None:
        """Phrasings learned from feedback live outside the files; when an entry changes, they follow its
        new question/answer/metadata."""
        for e in entries:
            learned = [u for u in self.store.entries.units(e.id) if u.source == LEARNED_SOURCE]
            fresh = [u.model_copy(update={
                "metadata": {**u.metadata, "question": e.question, "answer": e.answer}, "category": e.category,
                "product": e.product, "tags": e.tags, "lang": e.lang}) for u in learned]
            changed = [f for f, u in zip(fresh, learned, strict=True) if f != u]
            if changed:
                self.embed_units(changed)
                self.store.entries.add_units(changed)

    def ingest_tickets(self, path: Path, mapping: TicketMapping, report: IngestReport,
                       promote_min_tickets: int = 0, uri: str | None = None) -> None:
        """A ticket export: cleaned, masked tickets into the record, resolved ones mined into candidates that
        wait for review (they reach the answer index only when an editor or a promotion policy says so)."""
        uri = uri or str(path.resolve())
        digest = hashlib.sha256(path.read_bytes() + mapping.model_dump_json().encode()).hexdigest()[:32]
        report.files += 1
        if self.store.sources.content_hash(uri) == digest:
            report.unchanged += 1
            return
        tickets, bad, encoding, pii = read_tickets(path, mapping, self.masker, uri)
        report.quarantined.extend(bad)
        report.encodings[uri] = encoding
        for kind, n in pii.items():
            report.pii_masked[kind] = report.pii_masked.get(kind, 0) + n
        candidates = mine_candidates(tickets, mapping)
        promoted = [c for c in candidates if promote_min_tickets > 0 and c.count >= promote_min_tickets]
        if promoted:  # the configured policy: frequent, consistent resolutions go live, marked as such
            candidates = [c.model_copy(update={"status": "promoted"}) if c in promoted else c for c in candidates]
            entries = [KnowledgeEntry(id=c.id, question=c.question, answer=c.answer,
                                      alt_questions=tuple(q for q in c.examples if q != c.question),
                                      lang=detect_lang(c.question), source=f"{uri}#promoted",
                                      metadata={"provenance": "promoted from tickets", "tickets": c.tickets,
                                                "team": c.team})
                       for c in promoted]
            self.write_source(f"{uri}#promoted", "faq", digest, entries, [], IngestReport())
        self.store.sources.replace_tickets(uri, digest, tickets, candidates)
        self._committed()
        report.tickets += len(tickets)
        report.candidates += len(candidates)
        report.added += 1

    def remove_source(self, uri: str) -> int:
        ids = sorted(self.store.sources.unit_ids(uri))
        self.index.delete(ids)
        self.index.flush()
        self.store.sources.remove(uri)
        self._committed()
        return len(ids)

    def ingest(
        self, paths: Sequence[Path], prune: bool = False, progress_factory: ProgressFactory | None = None,
        names: Mapping[Path, str] | None = None,
    ) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        self.indexer.cache = VectorCache()  # one run: a text shared by many entries is embedded once
        files = discover(paths)
        report.files = len(files)
        for path in files:
            self.ingest_file(path, report, progress_factory, uri=(names or {}).get(path))
        if prune:
            seen = {str(p.resolve()) for p in files}
            roots = [str(p.resolve()) for p in paths if p.is_dir()]
            for uri in self.store.sources.uris():
                if uri not in seen and any(uri.startswith(root.rstrip("/") + "/") for root in roots):
                    report.units_removed += self.remove_source(uri)
                    report.removed += 1
        if report.quarantined and self.quarantine_path is not None:
            self.quarantine_path.parent.mkdir(parents=True, exist_ok=True)
            with self.quarantine_path.open("a", encoding="utf-8") as fh:
                for q in report.quarantined:
                    fh.write(json.dumps(q.model_dump(), ensure_ascii=False) + "\n")
        self.indexer.cache = VectorCache(limit=0)
        if report.units_added >= OPTIMIZE_AFTER_UNITS:
            self._optimize()
        report.seconds = time.perf_counter() - started
        log.info("ingest: %s", report.summary())
        return report

    def _optimize(self) -> None:
        """After a bulk write, let the index build its HNSW graph (Qdrant Edge does nothing on its own; a
        Qdrant server optimizes by itself, so an index without ``optimize`` is left alone)."""
        optimize = getattr(self.index, "optimize", None)
        if callable(optimize):
            optimize()

    def reindex(self, progress_factory: ProgressFactory | None = None) -> int:
        """Rebuild the whole index from the system of record with exact BM25 statistics."""
        units = list(self.store.sources.iter_units())
        self.index.clear()
        lengths = [len(self.tokenizer.tokenize(u.text)) for u in units]
        self.store.meta.set(STATS_KEY, {"units": len(units), "tokens": sum(lengths)})
        exact = max(sum(lengths) / len(units), 1.0) if units else 1.0
        progress = progress_factory(len(units), "reindex") if progress_factory and units else None
        try:
            self.embed_units(units, progress, avgdl=exact)
        finally:
            if progress:
                progress.close()
        self.index.flush()
        self._optimize()
        self._committed()
        return len(units)
