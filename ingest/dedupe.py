"""Duplicates: exact (normalised hash) and near (MinHash with datasketch's LSH), and FAQ entry merging.

Near-duplicates are measured on character 3-grams, which works the same for Chinese and English."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Sequence

import numpy as np
from datasketch import LeanMinHash, MinHashLSH

from core.ids import normalize_for_hash
from core.models import KnowledgeEntry
from ingest.units import distinct_phrasings

_NUM_PERM = 64
_PRIME = (1 << 61) - 1
_RNG = np.random.default_rng(42)
_A = _RNG.integers(1, _PRIME, size=_NUM_PERM, dtype=np.int64)
_B = _RNG.integers(0, _PRIME, size=_NUM_PERM, dtype=np.int64)
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
_LSH_MARGIN = 0.15


def shingles(text: str, k: int = 3) -> set[str]:
    norm = _PUNCT.sub("", normalize_for_hash(text))
    if len(norm) <= k:
        return {norm} if norm else set()
    return {norm[i : i + k] for i in range(len(norm) - k + 1)}


def minhash(text: str) -> np.ndarray:
    sh = shingles(text)
    if not sh:
        return np.full(_NUM_PERM, np.iinfo(np.int64).max, dtype=np.int64)
    hashes = np.array([zlib.crc32(s.encode("utf-8")) for s in sh], dtype=np.int64)
    return ((np.outer(hashes, _A) + _B) % _PRIME).min(axis=0)


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def _candidate_pairs(sigs: Sequence[np.ndarray], threshold: float) -> Iterator[tuple[int, int]]:
    """Pairs (j < i) that may reach ``threshold``: datasketch's MinHashLSH over our signatures, banded for a
    lower threshold than asked so that a pair near the threshold is not missed; each pair is then checked
    exactly. Expected cost grows with the number of texts, not its square."""
    lsh = MinHashLSH(threshold=max(threshold - _LSH_MARGIN, 0.05), num_perm=_NUM_PERM)
    for i, sig in enumerate(sigs):
        lean = LeanMinHash(seed=42, hashvalues=sig.astype(np.uint64), scheme="legacy")
        for j in lsh.query(lean):
            yield int(j), i
        lsh.insert(i, lean, check_duplication=False)


def near_duplicate_groups(texts: Sequence[str], threshold: float = 0.6) -> list[list[int]]:
    """Groups of indices whose estimated Jaccard similarity (MinHash) reaches ``threshold``; exact
    duplicates (after normalisation) always group. Each group is in input order; groups by first member."""
    sigs = [minhash(t) for t in texts]
    keys = [normalize_for_hash(t) for t in texts]
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in first:
            parent[find(i)] = find(first[key])
        first.setdefault(key, i)
    for j, i in _candidate_pairs(sigs, threshold):
        if find(i) != find(j) and float(np.mean(sigs[i] == sigs[j])) >= threshold:
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def merge_duplicate_entries(entries: Sequence[KnowledgeEntry], threshold: float = 0.8) -> tuple[
        list[KnowledgeEntry], list[tuple[str, str]]]:
    """FAQ entries asking the same thing become one entry whose ``alt_questions`` keep every phrasing.

    Returns the kept entries and (merged id, into id) pairs. Entries with the same question but a
    clearly different answer are not merged (that is an editor's call) and are left as they are."""
    groups = near_duplicate_groups([e.question for e in entries], threshold)
    kept: list[KnowledgeEntry] = []
    merged: list[tuple[str, str]] = []
    for group in groups:
        lead = entries[group[0]]
        phrasings = list(lead.alt_questions)
        for i in group[1:]:
            other = entries[i]
            if jaccard(other.question, lead.question) < threshold or jaccard(other.answer, lead.answer) < 0.5:
                kept.append(other)
                continue
            phrasings += [other.question, *other.alt_questions]
            merged.append((other.id, lead.id))
        lead_key = normalize_for_hash(lead.question)
        alts = tuple(p for p in distinct_phrasings(phrasings) if normalize_for_hash(p) != lead_key)
        kept.append(lead.model_copy(update={"alt_questions": alts}) if alts != lead.alt_questions else lead)
    order = {e.id: i for i, e in enumerate(entries)}
    return sorted(kept, key=lambda e: order[e.id]), merged
