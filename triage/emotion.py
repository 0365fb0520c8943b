"""Anger and frustration, in Chinese and English, so an upset customer reaches a person quickly.

The score combines (a) a classifier on the shared embedding plus lexical features, trained on labelled
data (``kb train-emotion``; measured on GoEmotions anger+annoyance), (b) lexicons of complaint
phrases written for support traffic in both languages, and (c) for Chinese text, snownlp's sentiment
(a Naive Bayes model shipped inside the package). ``escalate`` uses a threshold derived from a target
precision on a validation split, stored with the model."""

from __future__ import annotations

import re
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from .classifier import TextClassifier

ZH_ANGER = (
    "投诉", "气死", "太差", "垃圾", "骗子", "退钱", "还没修好", "还没到", "怎么回事", "什么破", "破系统", "坑人",
    "无语",
    "受够", "忍无可忍", "太过分", "差评", "欺骗", "赖账", "不负责任", "急死", "搞什么", "到底", "第三次", "又坏了",
    "恶心", "太离谱", "曝光", "12315", "告你们", "法院", "媒体", "态度差", "没人管", "等了", "一直没人", "凭什么",
)
EN_ANGER = (
    "ridiculous", "unacceptable", "terrible", "worst", "scam", "thieves", "money back", "refund now", "useless",
    "fed up", "furious", "angry", "disgusting", "lawyer", "sue", "suing", "complaint", "never again", "rip off",
    "ripoff", "stupid", "garbage", "joke", "third time", "second time", "still not", "still no", "how is this",
    "absolutely", "fix this", "immediately", "what the hell", "wtf", "pathetic", "unbelievable", "sick of",
)
_EN_ANGER_PATTERNS = tuple(re.compile(rf"\b{re.escape(w)}\b") for w in EN_ANGER)
"""Compiled once: building the 36 patterns per question cost 0.1 ms, most of a cached answer's own work."""
_EXCLAIM = re.compile(r"[!！]{2,}|[?？][!！]|[!！][?？]")
_CAPS = re.compile(r"\b[A-Z]{3,}\b")
_CJK = re.compile(r"[\u4e00-\u9fff]")


class Emotion(BaseModel):
    label: Literal["angry", "neutral"]
    score: float = Field(ge=0.0, le=1.0)
    escalate: bool


def lexicon_score(text: str) -> float:
    """0..1 from complaint phrases, repeated exclamation marks and shouting (words in capitals)."""
    lower = text.lower()
    hits = sum(1 for w in ZH_ANGER if w in text)
    hits += sum(1 for pattern in _EN_ANGER_PATTERNS if pattern.search(lower))
    hits += 1 if _EXCLAIM.search(text) else 0
    hits += 1 if len(_CAPS.findall(text)) >= 1 and not text.isupper() else 0
    return float(1.0 - 0.5**hits)


def zh_negativity(text: str) -> float:
    """1 - snownlp sentiment for Chinese text (0 for text without Chinese)."""
    if not _CJK.search(text):
        return 0.0
    from snownlp import SnowNLP

    return float(1.0 - SnowNLP(text).sentiments)


ZH_MEMO_SIZE = 20000


def _zh_weight(features: dict[str, float]) -> float:
    """snownlp's vote counts more beside a complaint phrase."""
    return 0.5 if features["lexicon"] > 0 else 0.3


class EmotionDetector:
    def __init__(self, classifier: TextClassifier | None = None, threshold: float | None = None,
                 positive: str = "angry") -> None:
        self.classifier = classifier
        self.positive = positive
        meta_threshold = classifier.meta.get("threshold") if classifier else None
        self.threshold = float(threshold if threshold is not None else (meta_threshold or 0.6))
        self._zh_seen: dict[str, float] = {}
        """snownlp's score by text (~7 ms a question): repeated Chinese questions are not scored again."""

    def _zh_negativity(self, text: str) -> float:
        value = self._zh_seen.get(text)
        if value is None:
            value = zh_negativity(text)
            if len(self._zh_seen) >= ZH_MEMO_SIZE:
                self._zh_seen.pop(next(iter(self._zh_seen)), None)  # oldest first out
            self._zh_seen[text] = value
        return value

    def features(self, text: str, embedding: np.ndarray | None, zh: bool = True) -> dict[str, float]:
        """The evidence for anger; ``zh``: with snownlp's negativity for Chinese text (else 0)."""
        lex = lexicon_score(text)
        out = {"lexicon": lex, "zh_negativity": 0.0, "classifier": 0.0}
        if zh and _CJK.search(text):
            out["zh_negativity"] = self._zh_negativity(text)
        if self.classifier is not None and embedding is not None:
            proba = self.classifier.predict_proba([text], embedding[None, :])[0]
            out["classifier"] = float(proba[self.classifier.labels.index(self.positive)])
        return out

    def score(self, text: str, embedding: np.ndarray | None) -> float:
        """The strongest evidence wins: a clear complaint phrase is enough on its own, and the classifier
        can find anger the lexicon misses. snownlp is only a weak vote (it reads any problem as negative),
        weighted 0.5 beside a complaint phrase and 0.3 without one. The full score: what training fits the
        threshold on and what the benchmarks report."""
        f = self.features(text, embedding)
        return float(min(1.0, max(f["classifier"], f["lexicon"], _zh_weight(f) * f["zh_negativity"])))

    def detect(self, text: str, embedding: np.ndarray | None) -> Emotion:
        """The escalation decision of ``score >= threshold``, with snownlp run only when its vote could decide
        it (below the threshold on everything else, and able to reach it). Under the default threshold (0.6)
        it never can, and a Chinese question skips snownlp's ~7 ms segmentation; the ``score`` reported
        then leaves out a vote that could not have changed the decision."""
        f = self.features(text, embedding, zh=False)
        s = max(f["classifier"], f["lexicon"])
        weight = _zh_weight(f)
        if s < self.threshold <= weight and _CJK.search(text):
            s = max(s, weight * self._zh_negativity(text))
        s = float(min(1.0, s))
        escalate = s >= self.threshold
        return Emotion(label="angry" if escalate else "neutral", score=round(s, 4), escalate=escalate)

    def describe(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "classifier": self.classifier.meta if self.classifier else None}
