"""Follow-up questions: "and for international orders?" only makes sense with the previous question."""

from __future__ import annotations

import re

_FOLLOW_UP_START = re.compile(
    r"^\s*(and|also|what about|how about|what if|then|but|or|same for|and if|那|那么|还有|如果是|如果|那如果|另外|"
    r"再问|同样|也是|这个|那个)\b|^\s*(那|还有|如果|另外)",
    re.IGNORECASE,
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[A-Za-z0-9]+")


def is_follow_up(question: str) -> bool:
    """Starts like a continuation, or is too short to stand alone (<= 3 words / <= 4 Chinese characters)."""
    if _FOLLOW_UP_START.search(question):
        return True
    cjk = len(_CJK.findall(question))
    words = len(_WORD.findall(question))
    return (cjk + words) > 0 and (cjk <= 4 if cjk else words <= 3) and cjk + words <= 4


def contextualize(previous: str | None, question: str) -> str:
    """The query to search with: the previous question prepended for follow-ups."""
    if previous and is_follow_up(question):
        return f"{previous} {question.strip()}"
    return question.strip()
