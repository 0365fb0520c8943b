"""Small text helpers shared by every layer."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_lang(text: str) -> str:
    """'zh' when Chinese characters make up a fair share of the letters, else 'en'.

    Deliberately simple: the knowledge base is Chinese and English; mixed text with any real amount
    of Chinese is treated as Chinese because Chinese customers mix in product names and English words."""
    cjk = len(_CJK.findall(text))
    latin_words = len(re.findall(r"[A-Za-z]+", text))
    if cjk == 0:
        return "en"
    return "zh" if cjk >= latin_words else "en"


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))
