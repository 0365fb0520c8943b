"""Prompt-injection phrasings (English and Chinese) that must not reach the knowledge base, from learned text
(``learning.screen``) or ingested files (``ingest.pipeline``). Pure; tested against ordinary questions."""

from __future__ import annotations

import re

_EN = [
    # "ignore the previous instructions", "disregard all prior rules", "forget your system prompt"
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|every\s+|everything\s+)?(?:of\s+)?"
    r"(?:the\s+|your\s+|my\s+|these\s+|those\s+|its\s+)?(?:previous|prior|above|earlier|preceding|foregoing|system|"
    r"original|initial|old)\s+(?:\w+\s+)?(?:instructions?|rules|prompts?|directions|guidelines|directives|context|"
    r"messages|commands)\b",
    # "ignore the instructions above", "disregard your instructions", "forget the rules you were given"
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+)?(?:of\s+)?(?:the|these|those|any)\s+"
    r"(?:instructions?|rules|prompts?|guidelines|directives)\s+(?:above|before|earlier|you\s+(?:were|have\s+been)"
    r"\s+given|given\s+(?:to\s+you|above|before))\b",
    r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+)?(?:of\s+)?your\s+(?:\w+\s+)?"
    r"(?:instructions|rules|prompts?|programming|guidelines|directives|training)\b",
    # "disregard previous", "ignore everything above", "forget all that came before"
    r"\b(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+|anything\s+)?(?:the\s+|that\s+|what\s+)?"
    r"(?:previous(?:ly)?|prior|above|before|earlier)(?:\s+(?:said|written|stated))?\s*(?:[.,;:!]|$)",
    r"\bdisregard\s+(?:all\s+)?(?:previous|prior|earlier)\b",
    # role-play openers
    r"\byou\s+are\s+now\s+(?:dan|stan|dude|aim|evilbot)\b",
    r"\bdan\b.{0,30}\bdo\s+anything\s+now\b",
    r"\byou\s+are\s+now\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|evil|different|new|free)\s+"
    r"(?:ai|assistant|model|bot|chatbot|version|language\s+model)\b",
    r"\bpretend\s+(?:that\s+)?you\s+(?:are|were|'re|have\s+no)\b",
    r"\b(?:act|behave|respond)\s+(?:as|like)\s+(?:if\s+you\s+(?:are|were)\s+)?(?:an?\s+)?(?:[\w-]+\s+){0,4}?"
    r"(?:without|with\s+no|free\s+of)\s+(?:any\s+)?(?:restrictions|limits|limitations|filters|rules|guidelines|"
    r"censorship|morals|ethics)\b",
    r"\b(?:act|pretend)\s+(?:as|to\s+be)\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|evil)\b",
    r"\bfrom\s+now\s+on,?\s+you\s+(?:are|will\s+(?:act|be|respond)|must\s+(?:act|answer))\b",
    r"\brole[\s-]?play\s+as\b",
    r"\byou\s+are\s+(?:now\s+)?in\s+developer\s+mode\b|\bdeveloper\s+mode\s+(?:enabled|output|response)\b",
    r"\bjailbreak(?:ed)?\s+(?:mode|prompt)\b|\bjailbroken\s+(?:ai|assistant|model|chatbot)\b",
    # the model's plumbing
    r"\bsystem\s+prompt\b|\byour\s+(?:hidden|secret|initial|original)\s+(?:prompt|instructions)\b",
    r"\bnew\s+instructions\s*:",
    r"<\s*/?\s*(?:script|system)\b|<\|im_(?:start|end)\|>|\[/?INST\]",
]

_ZH = [
    # 忽略以上指令, 无视之前的所有规则, 忘记前面的提示
    r"(?:忽略|无视|忽视|不要理会|别管|忘记|忘掉|跳过)(?:掉)?(?:你)?(?:之前|以上|前面|上面|上述|先前|此前|刚才|原来|所有|全部|一切)"
    r"(?:的)?(?:所有|全部|一切)?(?:的)?(?:指令|指示|规则|提示|命令|设定|约束|限制)",
    r"系统提示词|系统提示语|开发者模式已|越狱模式",
    r"你现在是\s*(?:DAN|一个没有|没有|不受|无)",
    r"(?:假装|假设|想象)你是",
    r"(?:扮演|充当|成为)(?:一个|一位)?(?:没有|不受|无)(?:任何)?(?:限制|约束|审查|过滤)",
    r"从现在(?:开始|起)，?你(?:是|将|要扮演)",
]

INJECTION = re.compile("|".join(f"(?:{p})" for p in _EN + _ZH), re.IGNORECASE | re.MULTILINE)


def find_injection(text: str) -> str | None:
    """The first prompt-injection phrasing in ``text`` (for the rejection reason), else None."""
    match = INJECTION.search(text)
    return match.group(0) if match else None
