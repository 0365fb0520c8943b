"""PII masking: exact outputs per detector, checksums, business contacts kept, real spoken data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.pii import CustomPattern, PiiMasker, cn_id_ok, luhn_ok

MASK = PiiMasker()


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        ("call 13812345678 or +86 138 1234 5678", "call [PHONE] or [PHONE]", {"PHONE": 2}),
        ("office 010-62345678, hotline 400-820-1234", "office [PHONE], hotline 400-820-1234", {"PHONE": 1}),
        ("US (415) 555-0134 and +1 415 555 0134", "US [PHONE] and [PHONE]", {"PHONE": 2}),
        ("mail zhang.wei@gmail.com or support@cloudnest.example", "mail [EMAIL] or support@cloudnest.example",
         {"EMAIL": 1}),
        ("身份证11010519491231002X", "身份证[ID_CN]", {"ID_CN": 1}),
        ("身份证110105194912310021", "身份证[NUMBER]", {"NUMBER": 1}),  # bad checksum: not an ID, still a long number
        ("card 4111 1111 1111 1111", "card [CARD]", {"CARD": 1}),
        ("ip 192.168.1.20 and 2001:0db8:85a3:0000:0000:8a2e:0370:7334", "ip [IP] and [IP]", {"IP": 2}),
        ("order CN20231115008 and 订单号20231115008812", "order [ORDER] and 订单号[ORDER]", {"ORDER": 2}),
        ("My withdrawal account number is zero six six nine seven two eight two",
         "My withdrawal account number is [ACCOUNT]", {"ACCOUNT": 1}),
        ("my pin is one two three four", "my pin is [PIN]", {"PIN": 1}),
        ("social security number is zero eight five three six nine five two two", "social security number is [ID]",
         {"ID": 1}),
        ("XXXX charged {$amount} on 07/12/2019, version 2.1.3, 3.5 USD", "XXXX charged {$amount} on 07/12/2019, "
         "version 2.1.3, 3.5 USD", {}),
    ],
)
def test_masks(text: str, expected: str, counts: dict[str, int]) -> None:
    result = MASK.mask(text)
    assert result.text == expected and dict(result.counts) == counts


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert cn_id_ok("11010519491231002X") and not cn_id_ok("110105194912310021")


def test_custom_patterns_and_allowlist() -> None:
    masker = PiiMasker([CustomPattern(name="ACCOUNT", regex=r"\bAC-\d{6}\b")], allow=["13800000000"])
    result = masker.mask("account AC-123456, test line 13800000000")
    assert result.text == "account [ACCOUNT], test line 13800000000"


SPELLED = re.compile(r"\b(account|card|pin|social security)\b[^.?!]{0,30}?\b(zero|one|two|three|four|five|six|seven|"
                     r"eight|nine)[ ,-]+(zero|one|two|three|four|five|six|seven|eight|nine)[ ,-]+(zero|one|two|three|"
                     r"four|five|six|seven|eight|nine)[ ,-]+(zero|one|two|three|four|five|six|seven|eight|nine)", re.I)


def test_spelled_out_numbers_in_dstc11_intents_are_masked(shared_data: Path) -> None:
    rows = [json.loads(line) for f in sorted((shared_data / "dstc11_intents").glob("*.jsonl"))
            for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    sensitive = [r["utterance"] for r in rows if SPELLED.search(r["utterance"])]
    assert len(sensitive) >= 20
    for text in sensitive:
        masked = MASK.mask(text).text
        assert not SPELLED.search(masked), (text, masked)
        assert re.search(r"\[(ACCOUNT|CARD|PIN|ID|NUMBER)\]", masked)
