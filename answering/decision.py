"""The decision for one question: answer from a confident FAQ match or document extract, clarify among a few
choices, or hand off (thresholds and probabilities from ``answering.calibration``)."""

from __future__ import annotations

from collections.abc import Sequence

from core.models import SearchHit
from ingest.sentences import sentence_spans
from retrieval.tokenize import Tokenizer

from .calibration import Calibration
from .records import Citation, Decision, Related
from .segments import segment_keys
from .signals import choices, signals, split_set_probability


def _cjk_chars(text: str) -> set[str]:
    return {c for c in text if "\u4e00" <= c <= "\u9fff"}


def best_extract(question: str, text: str, tokenizer: Tokenizer, max_sentences: int = 2) -> tuple[int, int, str]:
    """The (start, end, text) span of ``text`` that best answers the question: the sentence sharing most
    terms (and, for Chinese, characters) with it, plus the next sentence when that one also shares some.
    Breadcrumb lines (``A > B``) are skipped."""
    q_terms = set(tokenizer.tokenize(question))
    q_chars = _cjk_chars(question)
    all_spans = [(s, e, text[s:e]) for s, e in sentence_spans(text)]
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
    tokenizer: Tokenizer, seeking: float | None = None,
) -> tuple[str | None, Decision, float, list[Citation], list[Related]]:
    """(answer, decision, confidence, citations, related) for a question and its ranked hits.

    * ``answer``: P(top entry right) reaches the answer threshold of the question's segment;
    * ``clarify``: not sure of the first, but P(the right entry is among the first few) reaches the clarify
      threshold: ``related`` holds the choices, each with its probability of being the right one;
    * ``handoff``: nothing is good enough.

    ``seeking``: the probability that the turn asks for knowledge at all (dialogue turns), from a turn
    classifier: a signal of the calibrated models when they were fitted with it, and a cap on both
    probabilities otherwise (a turn that merely names a hotel is not a question to answer)."""
    if not hits:
        return None, Decision.handoff, 0.0, [], []
    top = hits[0]
    gate = 1.0 if seeking is None else max(0.0, min(1.0, seeking))
    if calibration is not None and calibration.uses_seeking:
        gate = 1.0  # the models use it as a signal
    if calibration is None:
        confidence = max(0.0, min(1.0, float(top.score))) * gate
        return _legacy_decision(question, hits, confidence, default_threshold, 0.05, tokenizer)
    sig = signals(hits, question, seeking)
    segments = segment_keys(question, hits)
    offered = choices(hits)
    decision, confidence, p_set = calibration.outcome(sig, segments, len(offered), gate)
    if decision == Decision.answer:
        return _answer(question, hits, confidence, tokenizer)
    if calibration.set_model is None or calibration.clarify_threshold is None:
        return _legacy_decision(question, hits, confidence, calibration.threshold(segments),
                                calibration.clarify_margin, tokenizer)
    if decision == Decision.clarify and p_set is not None:
        probs = split_set_probability(confidence, p_set, [h.score for h in offered])
        related = [r.model_copy(update={"probability": round(min(max(p, 0.0), 1.0), 4)})
                   for r, p in zip(related_from(offered, None, limit=len(offered)), probs, strict=True)]
        return None, Decision.clarify, confidence, [], related
    return None, Decision.handoff, confidence, [], related_from(hits, None)


def _answer(question: str, hits: Sequence[SearchHit], confidence: float, tokenizer: Tokenizer,
            ) -> tuple[str | None, Decision, float, list[Citation], list[Related]]:
    top = hits[0]
    related = related_from(hits, top.target_id)
    citation = citation_for(question, top, tokenizer)
    if top.entry_id:
        return top.answer or top.text, Decision.answer, confidence, [citation], related
    return citation.snippet, Decision.answer, confidence, [citation], related


def _legacy_decision(question: str, hits: Sequence[SearchHit], confidence: float, threshold: float, margin: float,
                     tokenizer: Tokenizer) -> tuple[str | None, Decision, float, list[Citation], list[Related]]:
    """Without a set model: clarify when two different entries are close at the top and the confidence is at
    least half the threshold."""
    if confidence >= threshold:
        return _answer(question, hits, confidence, tokenizer)
    top = hits[0]
    close = [h for h in hits[:4] if h.entry_id and top.score - h.score <= margin]
    if len({h.target_id for h in close}) >= 2 and confidence >= threshold / 2:
        return None, Decision.clarify, confidence, [], related_from(close, None, limit=4)
    return None, Decision.handoff, confidence, [], related_from(hits, None)


def citation_for(question: str, hit: SearchHit, tokenizer: Tokenizer) -> Citation:
    """The citation of a hit: the entry and its question, or the document extract with its character span
    within the chunk's text."""
    if hit.entry_id:
        return Citation(entry_id=hit.entry_id, chunk_id=hit.chunk_id, source=hit.source,
                        snippet=(hit.question or "")[:200])
    start, end, extract = best_extract(question, hit.text, tokenizer)
    return Citation(doc_id=hit.doc_id, chunk_id=hit.chunk_id, source=hit.source, title=hit.title,
                    section=hit.section, snippet=extract, char_start=start, char_end=end)
