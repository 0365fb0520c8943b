"""PII masking before anything is indexed: typed masks (``[PHONE]``, ``[EMAIL]``...) with counts.

Detectors, most specific first: e-mail; Chinese resident ID (18 characters, ISO 7064 mod 11-2
checksum); bank card (13-19 digits, Luhn); IPv4/IPv6; phone numbers (Chinese mobile and landline,
international with +, North American); configurable order/account patterns; numbers spelled out in
words ("zero six six nine ...", typed by the words before them: account, card, PIN, SSN, phone);
and any other run of 8+ digits. Business contact points are not personal data and are kept: role
mailboxes (support@, service@...) and Chinese 400/800 service lines."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

ROLE_MAILBOXES = ("support", "service", "help", "info", "sales", "b2b", "complaints", "noreply", "no-reply",
                  "contact", "hello", "press", "billing", "privacy", "support-en", "kefu")

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b")
_ID_CN = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IPV4 = re.compile(
    r"(?<!\d)(?<!\d\.)(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\d|\.\d)"
)
_IPV6 = re.compile(r"(?<![:\w])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![:\w])")
_PHONE = re.compile(
    r"(?:(?:\+|00)86[ -]?)?(?<!\d)1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)"          # Chinese mobile
    r"|(?<!\d)0\d{2,3}[ -]?\d{7,8}(?!\d)"                                      # Chinese landline
    r"|(?<![\w+])\+\d{1,3}[ -]?(?:\(\d{1,4}\)[ -]?)?\d{2,4}(?:[ -]?\d{2,4}){1,3}(?!\d)"  # international
    r"|(?<!\d)\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)"                           # North American
)
_SERVICE_LINE = re.compile(r"^(?:\+86[ -]?)?[48]00[ -]?\d{3}[ -]?\d{4}$")
_LONG_DIGITS = re.compile(r"(?<![A-Za-z0-9\[])\d{8,}(?![A-Za-z0-9\]])")

_UNITS = "zero|oh|one|two|three|four|five|six|seven|eight|nine"
_TEENS = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_NUM_WORD = rf"(?:(?:{_TENS})(?:-(?:{_UNITS}))?|{_TEENS}|{_UNITS}|hundred|double|triple)"
_SPELLED = re.compile(rf"\b{_NUM_WORD}(?:[\s,-]+{_NUM_WORD}){{3,}}\b", re.IGNORECASE)
_CONTEXT = (
    ("PIN", re.compile(r"\b(pin|passcode|password|security code|cvv)\b", re.I)),
    ("CARD", re.compile(r"\b(card)\b", re.I)),
    ("ID", re.compile(r"\b(social security|ssn|passport|driver'?s licen[cs]e)\b", re.I)),
    ("ACCOUNT", re.compile(r"\b(account|acct|routing)\b", re.I)),
    ("PHONE", re.compile(r"\b(phone|mobile|cell|call me|number to reach)\b", re.I)),
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def cn_id_ok(value: str) -> bool:
    """ISO 7064 mod 11-2 check digit of a Chinese resident identity number."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(value[:17], weights, strict=True))
    return "10X98765432"[total % 11] == value[17].upper()


class CustomPattern(BaseModel):
    """An order/account number format, e.g. ``{"name": "ORDER", "regex": "\\\\bCN\\\\d{12}\\\\b"}``."""

    name: str
    regex: str


@dataclass
class MaskResult:
    text: str
    counts: Counter[str] = field(default_factory=Counter)


DEFAULT_PATTERNS = (
    CustomPattern(name="ORDER",
                  regex=r"(?<=[Oo]rder )(?:[Nn]o\.?\s*|[Nn]umber\s*|#\s*)?(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{6,}\b"),
    CustomPattern(name="ORDER", regex=r"(?:(?<=订单号)|(?<=订单))[:：\s]*(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{6,}"),
)


class PiiMasker:
    def __init__(self, patterns: Sequence[CustomPattern] = DEFAULT_PATTERNS,
                 allow: Sequence[str] = ()) -> None:
        self._custom = [(p.name.upper(), re.compile(p.regex)) for p in patterns]
        self._allow = set(allow)

    def mask(self, text: str) -> MaskResult:
        counts: Counter[str] = Counter()

        def sub(pattern: re.Pattern[str], label: str, keep: object = None, s: str = "") -> str:
            def repl(m: re.Match[str]) -> str:
                value = m.group(0)
                if value in self._allow or (callable(keep) and keep(value)):
                    return value
                counts[label] += 1
                return f"[{label}]"

            return pattern.sub(repl, s)

        out = sub(_EMAIL, "EMAIL", lambda v: v.split("@")[0].lower() in ROLE_MAILBOXES, text)
        out = sub(_ID_CN, "ID_CN", lambda v: not cn_id_ok(v), out)
        for name, pattern in self._custom:
            out = sub(pattern, name, None, out)
        out = sub(_IPV4, "IP", None, out)
        out = sub(_IPV6, "IP", None, out)
        out = sub(_PHONE, "PHONE", lambda v: bool(_SERVICE_LINE.match(v.strip())), out)
        out = sub(_CARD, "CARD", lambda v: not luhn_ok(re.sub(r"\D", "", v)), out)
        out = self._spelled(out, counts)
        out = sub(_LONG_DIGITS, "NUMBER", None, out)
        return MaskResult(out, counts)

    @staticmethod
    def _spelled(text: str, counts: Counter[str]) -> str:
        def repl(m: re.Match[str]) -> str:
            before = text[max(0, m.start() - 60) : m.start()]
            label = next((name for name, cue in _CONTEXT if cue.search(before)), "NUMBER")
            counts[label] += 1
            return f"[{label}]"

        return _SPELLED.sub(repl, text)
