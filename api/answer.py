"""The first answering logic: answer from a confident FAQ match or document extract, else hand off.

Confidence here is the fusion model's probability that the top candidate is relevant (the default
fusion is a logistic model). Calibration against labelled questions refines it; keep this seam."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.models import SearchHit
from retrieval.tokenize import Tokenizer

from .calibration import Calibration, signals
from .schemas import Citation, Decision, Related

_SENTENCE_END = re.compile(r"(?<=[。！？；!?])|(?<=[.;])\s+|\n+")


def split_sentences(text: str) -> list[tuple[int, int, str]]:
    """(start, end, sentence) spans; coarse but span-exact, for extracts and citations."""
    spans: list[tuple[int, int, str]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.start()
        if text[start:end].strip():
            spans.append((start, end, text[start:end]))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text), text[start:]))
    return spans


def _cjk_chars(text: str) -> set[str]:
    return {c for c in text if "\u4e00" <= c <= "\u9fff"}


def best_extract(question: str, text: str, tokenizer: Tokenizer, max_sentences: int = 2) -> tuple[int, int, str]:
    """The (start, end, text) span of ``text`` that best answers the question: the sentence sharing most
    terms (and, for Chinese, characters) with it, plus the next sentence when that one also shares some.
    Breadcrumb lines (``A > B``) are skipped."""
    q_terms = set(tokenizer.tokenize(question))
    q_chars = _cjk_chars(question)
    all_spans = split_sentences(text)
    spans = [s for s in all_spans if " > " not in s[2]] or all_spans
    if not spans:
        return 0, len(text), text.strip()

    def score(sentence: str) -> float:
        terms = tokenizer.tokenize(sentence)
        overlap = len(q_terms.intersection(terms)) + 0.5 * len(q_chars & _cjk_chars(sentence))
        return overlap / (1.0 + 0.02 * len(terms))

    scores = [score(s[2]) for s in spans]
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    last = best
    while last + 1 < len(spans) and last - best + 1 < max_sentences and scores[last + 1] > 0:
        last += 1
    start, end = spans[best][0], spans[last][1]
    return start, end, text[start:end].strip()


def related_from(hits: Sequence[SearchHit], skip: str | None, limit: int = 3) -> list[Related]:
    out: list[Related] = []
    seen = {skip} if skip else set()
    for hit in hits:
        key = hit.target_id
        if key in seen:
            continue
        seen.add(key)
        label = hit.question or hit.title or hit.text[:80]
        out.append(Related(entry_id=hit.entry_id, doc_id=hit.doc_id, question=label, score=round(hit.score, 4)))
        if len(out) >= limit:
            break
    return out


def decide(
    question: str, hits: Sequence[SearchHit], calibration: Calibration | None, default_threshold: float,
    tokenizer: Tokenizer,
) -> tuple[str | None, Decision, float, list[Citation], list[Related]]:
    """(answer, decision, confidence, citations, related) for a question and its ranked hits.

    * ``answer``: the confidence reaches the answer threshold (derived from the target precision);
    * ``clarify``: not confident, but two or more different entries are close to each other at the
      top (the customer picks among ``related``);
    * ``handoff``: nothing is good enough."""
    if not hits:
        return None, "handoff", 0.0, [], []
    top = hits[0]
    if calibration is not None:
        confidence = calibration.confidence(signals(hits))
        threshold = calibration.answer_threshold
        margin = calibration.clarify_margin
    else:
        confidence = max(0.0, min(1.0, float(top.score)))
        threshold = default_threshold
        margin = 0.05
    if confidence < threshold:
        close = [h for h in hits[:4] if h.entry_id and top.score - h.score <= margin]
        if len({h.target_id for h in close}) >= 2 and confidence >= threshold / 2:
            return None, "clarify", confidence, [], related_from(close, None, limit=4)
        return None, "handoff", confidence, [], related_from(hits, None)
    related = related_from(hits, top.target_id)
    citation = citation_for(question, top, tokenizer)
    if top.entry_id:
        return top.answer or top.text, "answer", confidence, [citation], related
    return citation.snippet, "answer", confidence, [citation], related


def citation_for(question: str, hit: SearchHit, tokenizer: Tokenizer) -> Citation:
    """The citation of a hit: the entry and its question, or the document extract with its character span
    within the chunk's text."""
    if hit.entry_id:
        return Citation(entry_id=hit.entry_id, chunk_id=hit.chunk_id, source=hit.source,
                        snippet=(hit.question or "")[:200])
    start, end, extract = best_extract(question, hit.text, tokenizer)
    return Citation(doc_id=hit.doc_id, chunk_id=hit.chunk_id, source=hit.source, title=hit.title,
                    section=hit.section, snippet=extract, char_start=start, char_end=end)
