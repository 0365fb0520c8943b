"""Which product a question names (``retrieval.products``)."""

from __future__ import annotations

from retrieval.products import ProductMatcher

NAMES = ["ACORN GUEST HOUSE", "A AND B GUEST HOUSE", "THE GONVILLE HOTEL", "Gonville", "iPhone 15", "X1",
         "小米手环 8"]


def test_names_match_case_punctuation_and_space_blind() -> None:
    m = ProductMatcher(NAMES)
    assert m.find("Does the Acorn Guesthouse have parking?") == "ACORN GUEST HOUSE"
    assert m.find("does acorn guest-house allow pets") == "ACORN GUEST HOUSE"
    assert m.find("my IPHONE15 will not charge") == "iPhone 15"


def test_a_leading_the_is_optional_and_the_longest_name_wins_at_one_place() -> None:
    m = ProductMatcher(NAMES)
    assert m.find("is gonville hotel near the station") == "THE GONVILLE HOTEL"
    assert m.find("is the Gonville Hotel near the station") == "THE GONVILLE HOTEL"
    assert m.find("what about gonville?") == "Gonville"


def test_the_last_named_product_is_the_one_meant() -> None:
    m = ProductMatcher(NAMES)
    assert m.find("I stayed at A and B Guest House; does Acorn Guest House have wifi?") == "ACORN GUEST HOUSE"
    assert m.find("Acorn Guest House or A and B guest house: which has wifi at A and B?") == "A AND B GUEST HOUSE"


def test_short_names_and_partial_words_do_not_match() -> None:
    m = ProductMatcher(NAMES)
    assert m.find("my x1 is broken") is None  # "X1" is too short to tell from ordinary text
    assert m.find("acorns are falling on the guest house") is None
    assert m.find("how do I reset my password?") is None


def test_chinese_names_match_as_substrings() -> None:
    m = ProductMatcher(NAMES)
    assert m.find("小米手环 8怎么充电") == "小米手环 8"
    assert m.find("Acorn Guest House 和 小米手环 8") == "小米手环 8"


def test_an_empty_matcher_is_false_and_finds_nothing() -> None:
    m = ProductMatcher(["", "  "])
    assert not m and m.find("anything") is None and m.names == ()
