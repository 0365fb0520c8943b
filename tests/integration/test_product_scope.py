"""Product-scoped search: a question that names a product is searched among that product's entries and the
entries of no product (fake embedder: the scoping, not the ranking, is the subject)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from answering.records import Question
from core.models import Filters
from service.knowledge_base import KnowledgeBase

PARKING = "Is there free parking?"
FAQ = [
    {"id": "acorn-parking", "question": PARKING, "answer": "Yes, free parking behind the house.",
     "product": "ACORN GUEST HOUSE"},
    {"id": "alpha-parking", "question": PARKING, "answer": "No, parking costs 10 pounds a night.",
     "product": "ALPHA-MILTON GUEST HOUSE"},
    {"id": "booking", "question": "How do I book a room with free parking?", "answer": "Book on our website."},
]


@pytest.fixture
def kb(fake_kb: KnowledgeBase, tmp_path: Path) -> KnowledgeBase:
    faq = tmp_path / "faq.jsonl"
    faq.write_text("\n".join(json.dumps(r) for r in FAQ) + "\n", encoding="utf-8")
    fake_kb.ingest([faq])
    return fake_kb


def ids(hits: list) -> list[str | None]:  # type: ignore[type-arg]
    return [h.entry_id for h in hits]


def test_ingest_makes_the_product_names_known(kb: KnowledgeBase) -> None:
    assert kb.searcher.products.names == ("ACORN GUEST HOUSE", "ALPHA-MILTON GUEST HOUSE")


@pytest.mark.parametrize(("question", "own", "other"), [
    ("Does the Alpha-Milton Guest House have free parking?", "alpha-parking", "acorn-parking"),
    ("is there free parking at acorn guesthouse", "acorn-parking", "alpha-parking"),
])
def test_a_named_product_leaves_out_the_other_products(kb: KnowledgeBase, question: str, own: str,
                                                       other: str) -> None:
    found = ids(kb.search(question, top_k=10))
    assert own in found and "booking" in found  # its own entry and the entries of no product
    assert other not in found


def test_without_a_named_product_every_entry_is_a_candidate(kb: KnowledgeBase) -> None:
    assert set(ids(kb.search(PARKING, top_k=10))) == {"acorn-parking", "alpha-parking", "booking"}


def test_an_explicit_product_filter_wins_over_the_name_in_the_question(kb: KnowledgeBase) -> None:
    found = ids(kb.search("Does Acorn Guest House have parking?", top_k=10,
                          filters=Filters(product=["ALPHA-MILTON GUEST HOUSE"])))
    assert found == ["alpha-parking"]


def test_a_product_named_earlier_in_the_conversation_scopes_the_next_question(kb: KnowledgeBase) -> None:
    kb.ask(Question(question="I have a room at the Acorn Guest House next week", session_id="s1"))
    _, hits = kb.ask_with_hits(Question(question=PARKING, session_id="s1"))
    assert "acorn-parking" in ids(hits) and "alpha-parking" not in ids(hits)
    _, alone = kb.ask_with_hits(Question(question=PARKING, session_id="s2"))
    assert {"acorn-parking", "alpha-parking"} <= set(ids(alone))


def test_the_conversation_keeps_its_product_until_another_is_named(kb: KnowledgeBase) -> None:
    kb.ask(Question(question="I have a room at the Acorn Guest House next week", session_id="s3"))
    kb.ask(Question(question="How do I book a room with free parking?", session_id="s3"))  # names none
    _, hits = kb.ask_with_hits(Question(question=PARKING, session_id="s3"))
    assert "acorn-parking" in ids(hits) and "alpha-parking" not in ids(hits)
    kb.ask(Question(question="What about the Alpha-Milton Guest House instead?", session_id="s3"))
    _, hits = kb.ask_with_hits(Question(question=PARKING, session_id="s3"))
    assert "alpha-parking" in ids(hits) and "acorn-parking" not in ids(hits)
    session = kb.store.asks.session("s3", 60)
    assert session is not None and session.product == "ALPHA-MILTON GUEST HOUSE"


def test_the_turns_a_chatbot_sends_name_the_product(kb: KnowledgeBase) -> None:
    from tests.api_client import client_for

    with client_for(kb) as client:
        turns = ["I need a guest house in the north", "The Alpha-Milton Guest House is a nice place."]
        r = client.post("/v1/ask", json={"question": PARKING, "context": turns})
        assert r.status_code == 200
        offered = [c["entry_id"] for c in r.json()["citations"]] + [x["entry_id"] for x in r.json()["related"]]
        assert "alpha-parking" in offered and "acorn-parking" not in offered
        too_many = client.post("/v1/ask", json={"question": PARKING, "context": ["turn"] * 21})
        assert too_many.status_code == 422


def test_the_answer_cache_keeps_one_question_about_two_products_apart(kb: KnowledgeBase) -> None:
    assert kb.answer_cache is not None
    for product, own, other in (("Acorn Guest House", "acorn-parking", "alpha-parking"),
                                ("Alpha-Milton Guest House", "alpha-parking", "acorn-parking"),
                                ("Acorn Guest House", "acorn-parking", "alpha-parking")):
        _, hits = kb.ask_with_hits(Question(question=PARKING, context=[f"We like the {product}."]))
        assert own in ids(hits) and other not in ids(hits)
    assert (kb.answer_cache.stats.lookups, kb.answer_cache.stats.hits) == (3, 1)  # the third is the first's


def test_products_from_another_process_are_picked_up_and_unchanged_names_are_not_rescanned(
        kb: KnowledgeBase) -> None:
    from core.models import KnowledgeEntry
    from ingest.pipeline import IngestReport

    before = kb.searcher.products
    kb.curator.bump()  # a generation change that adds no product (an edit, a learned phrasing)
    kb.ask(Question(question=PARKING))
    assert kb.searcher.products is before
    # another process ingests a new product: written to the shared record, the generation bumped
    entry = KnowledgeEntry(id="gonville-parking", question=PARKING, answer="Ten spaces.", product="GONVILLE HOTEL")
    kb.ingestor().write_source("other.jsonl", "faq", "test", [entry], [], IngestReport())
    kb.curator.bump()
    kb.ask(Question(question=PARKING))
    assert "GONVILLE HOTEL" in kb.searcher.products.names
    assert ids(kb.search("parking at the Gonville Hotel?", top_k=10))[0] == "gonville-parking"


def test_a_product_named_beyond_the_context_window_is_not_scoped_on(kb: KnowledgeBase) -> None:
    filler = ["blah " * 399] * 5  # 5 x 1,995 characters after the name: past the 8,000 read
    _, hits = kb.ask_with_hits(Question(question=PARKING, context=["We like the Acorn Guest House.", *filler]))
    assert {"acorn-parking", "alpha-parking"} <= set(ids(hits))
    _, hits = kb.ask_with_hits(Question(question=PARKING, context=[*filler, "We like the Acorn Guest House."]))
    assert "acorn-parking" in ids(hits) and "alpha-parking" not in ids(hits)
