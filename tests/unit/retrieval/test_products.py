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


def test_names_the_knowledge_uses_as_ordinary_words_are_not_scoped_on() -> None:
    from retrieval.products import identifying_products

    texts = [("app", "How do I log in to the app?"), ("app", "The app shows an error"),
             ("smartlock-l7", "How do I pair the lock with the app?"), ("smartlock-l7", "Open the app, tap Add"),
             ("hub-x2", "Pair the hub in the app"), ("store", "Can I pick up in store?"),
             ("smartlock-l7", "Battery of the SmartLock L7"), (None, "Which store is nearest?"),
             (None, "Store opening hours"), ("Acorn Guest House", "ACORN GUEST HOUSE: is there parking?"),
             ("hub-x2", "Does it work with the SmartLock L7?")]
    names = ["app", "smartlock-l7", "hub-x2", "store", "Acorn Guest House"]
    m = identifying_products(names, texts)
    # "app": 3 of 5 uses elsewhere; "store": 2 of 3; "smartlock-l7": 1 of 2, a cross-reference; the others
    # only in their own entries (or never: hub-x2)
    assert m.ambiguous == ("app", "store")
    assert m.names == ("Acorn Guest House", "hub-x2", "smartlock-l7")
    assert m.find("how do I pair the smartlock l7 with the app") == "smartlock-l7"
    assert m.find("is the app down?") is None
    assert identifying_products(names, texts, max_elsewhere=1.0).names == tuple(sorted(names))


def test_find_all_names_every_product_in_a_text() -> None:
    m = ProductMatcher(NAMES)
    # overlapping names both count ("Gonville" inside "the Gonville Hotel")
    assert m.find_all("Acorn Guest House or the Gonville Hotel? 小米手环 8") == {
        "ACORN GUEST HOUSE", "THE GONVILLE HOTEL", "Gonville", "小米手环 8"}


def test_catalog_rebuilds_only_when_the_names_change_unless_forced() -> None:
    from retrieval.products import ProductCatalog

    names = ["Acorn Guest House"]
    reads: list[int] = []

    def texts(chars: int) -> list[tuple[str | None, str]]:
        reads.append(chars)
        return [("Acorn Guest House", "Is there parking at the Acorn Guest House?")]

    catalog = ProductCatalog(lambda: names, texts)
    first = catalog.refresh()
    assert first is not None and first.names == ("Acorn Guest House",) and reads == [200]
    assert catalog.refresh(force=False) is None and reads == [200]  # same names: the texts are not read
    again = catalog.refresh()  # forced: read again
    assert again is not None and reads == [200, 200]
    names.append("Bridge Hotel")
    changed = catalog.refresh(force=False)
    assert changed is not None and changed.names == ("Acorn Guest House", "Bridge Hotel") and len(reads) == 3
    names.clear()
    empty = catalog.refresh(force=False)
    assert empty is not None and not empty and len(reads) == 3  # no names: nothing to read
