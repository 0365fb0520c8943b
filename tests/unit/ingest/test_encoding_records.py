"""Encodings (charset-normalizer behind BOM/UTF-8 rules), the one record reader, LSH near-duplicates."""

from __future__ import annotations

import random

import pytest

from core.errors import BadInput
from ingest.dedupe import near_duplicate_groups
from ingest.encoding import Decoded, decode
from ingest.records import Record, parse_records

SAMPLES = [
    ("cp1252", "question,answer\nCafé ouvert?,Oui, le café ouvre à 8h.\n", "cp1252"),
    ("shift_jis", "営業時間は？,午前9時から午後6時までです。", "cp932"),
    ("gbk", "退款多久到账？退款通常在3到5个工作日内到账。", "gb18030"),
    ("cp1251", "Где мой заказ? Возврат занимает пять дней.", "cp1251"),
]


@pytest.mark.parametrize(("data", "encoding", "text"), [(t.encode(enc), name, t) for enc, t, name in SAMPLES])
def test_legacy_encodings_are_detected_with_a_confidence(data: bytes, encoding: str, text: str) -> None:
    decoded = decode(data)
    assert (decoded.encoding, decoded.text, decoded.guessed, decoded.replaced) == (encoding, text, True, 0)
    assert decoded.label() == f"{encoding} (confidence {decoded.confidence:.2f})" and decoded.confidence > 0.7


def test_unicode_is_not_guessed() -> None:
    assert decode("退货".encode()) == Decoded("退货", "utf-8")
    assert decode(b"\xef\xbb\xbfhi") == Decoded("hi", "utf-8-sig")
    assert decode("hi".encode("utf-16")) == Decoded("hi", "utf-16")
    assert decode("hi".encode("utf-16")).label() == "utf-16"


def test_stray_bytes_are_replaced_not_refused() -> None:
    zh = decode("# 退款\n\n退款在3到5个工作日内到账。".encode() + b"\xff\n")
    assert (zh.encoding, zh.replaced, zh.text) == ("utf-8", 1, "# 退款\n\n退款在3到5个工作日内到账。\ufffd\n")
    en = decode(b"# Title\n\nSome text \xff here.\n")
    assert (en.encoding, en.replaced, en.text) == ("utf-8", 1, "# Title\n\nSome text \ufffd here.\n")
    assert en.label() == "utf-8 (confidence 0.96, 1 undecodable byte(s) replaced)"


def test_nul_bytes_are_dropped_and_counted() -> None:
    assert decode(b"a,b\nhi\x00there,ok\n") == Decoded("a,b\nhithere,ok\n", "utf-8", 1.0, 1)


def test_binary_is_refused_with_a_reason() -> None:
    with pytest.raises(BadInput, match=r"^cannot decode: not text in UTF-8"):
        decode(random.Random(1).randbytes(3000))


def test_csv_records_with_locations_and_reasons() -> None:
    text = "question,answer,lang\nQ1,A1,en\n\nQ2,A2\nQ3,A3,en,extra\n\"Q4\nwrapped\",A4,en\n"
    header, records = parse_records(text, "csv")
    assert header == ["question", "answer", "lang"]
    assert records == [
        Record("row 2", {"question": "Q1", "answer": "A1", "lang": "en"}),
        Record("row 3 (line 4)", {"question": "Q2", "answer": "A2", "lang": ""}),
        Record("row 4 (line 5)", None, "more fields than the header: 4 fields, header has 3"),
        Record("row 5 (line 7)", {"question": "Q4\nwrapped", "answer": "A4", "lang": "en"}),
    ]
    _, strict = parse_records("a,b\n1\n", "csv", strict_width=True)
    assert strict == [Record("row 2", None, "truncated row: 1 of 2 fields (cut off mid-record?)")]


def test_a_five_megabyte_field_is_read() -> None:
    big = "x" * 5_000_000
    _, records = parse_records(f"question,answer\nQ,{big}\n", "csv")
    assert records[0].data is not None and len(records[0].data["answer"]) == 5_000_000


def test_jsonl_records() -> None:
    header, records = parse_records('{"q": 1}\n\n[1]\n{"q": \n{"a": "b"}\n', "jsonl")
    assert header == ["a", "q"]
    assert [(r.location, r.data, r.error.split(":")[0]) for r in records] == [
        ("line 1", {"q": 1}, ""), ("line 3", None, "not a JSON object (a list)"), ("line 4", None, "invalid JSON"),
        ("line 5", {"a": "b"}, "")]


def test_lsh_near_duplicates_match_the_exhaustive_comparison() -> None:
    texts = ["How do I reset my password?", "How do I reset my password", "how do i reset my password!!",
             "退款多久到账？", "退款多久到账?", "Where is my parcel?", "Totally different text about lamps",
             "How do I reset my pass word?"]
    assert near_duplicate_groups(texts, 0.6) == [[0, 1, 2, 7], [3, 4], [5], [6]]
    assert near_duplicate_groups([], 0.6) == [] and near_duplicate_groups(["", ""], 0.6) == [[0, 1]]
