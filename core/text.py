"""Text helpers every layer shares: the one definition of CJK characters, language detection."""

from __future__ import annotations

import re

# Characters that count as CJK text: kana, CJK ideographs (+ extension A, compatibility), Hangul syllables,
# and the supplementary ideograph planes. Every module that asks "is this Chinese/Japanese/Korean text"
# uses these, so tokenizer, chunker, emotion lexicon and language detection agree.
CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0002fa1f"
# CJK/full-width punctuation: written without spaces around it, like CJK text.
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"
CJK = re.compile(f"[{CJK_CHARS}]")
CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
CJK_TIGHT = re.compile(f"[{CJK_CHARS}{CJK_PUNCT}]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def has_cjk(text: str) -> bool:
    """Whether the text holds any CJK character."""
    return CJK.search(text) is not None


def detect_lang(text: str) -> str:
    """'zh' when CJK characters make up a fair share of the letters, else 'en'.

    Deliberately simple: the knowledge base is Chinese and English; mixed text with any real amount
    of Chinese is treated as Chinese because Chinese customers mix in product names and English words."""
    cjk = len(CJK.findall(text))
    if cjk == 0:
        return "en"
    return "zh" if cjk >= len(_LATIN_WORD.findall(text)) else "en"
