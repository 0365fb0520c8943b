"""The embedded head of an FAQ answer unit (``KB_ANSWER_UNIT_MAX_TOKENS``)."""

from __future__ import annotations

from core.models import Unit
from ingest.chunking import approx_tokens, head_within
from ingest.indexing import dense_text


def test_head_within_is_the_longest_prefix_that_fits() -> None:
    text = "退款将在三个工作日内到账。" * 20  # 13 characters, 12 of them CJK + 1 punctuation: 13 tokens each
    head = head_within(text, 30)
    assert text.startswith(head) and approx_tokens(head) <= 30 < approx_tokens(text[: len(head) + 1])
    assert head_within("short answer", 30) == "short answer"
    assert head_within(text, 0) == ""


def _unit(kind: str, text: str) -> Unit:
    return Unit(id=f"e:{kind[0]}:1", kind=kind, text=text, entry_id="e", source="faq.jsonl")  # type: ignore[arg-type]


def test_only_answer_units_are_capped_and_only_for_embedding() -> None:
    long = "How do refunds work?\n" + "Refunds reach the card in five days. " * 100
    answer = _unit("answer", long)
    assert dense_text(answer, 64) == head_within(long, 64) and approx_tokens(dense_text(answer, 64)) <= 64
    assert dense_text(answer, None) == long
    assert dense_text(_unit("question", long), 64) == long
    assert dense_text(_unit("chunk", long), 64) == long
    assert answer.text == long  # BM25 is computed from the unit's whole text
