"""Cleaning of customer-written text (e-mails, tickets, chat): quoted replies, signatures, disclaimers
and greetings removed, full-width letters and digits normalised, emoji and mentions handled,
redaction tokens of exports (``XXXX``, ``{$amount}``) kept as readable tokens. Pure functions."""

from __future__ import annotations

import re

_QUOTE_HEADERS = re.compile(
    r"^\s*(?:On .{3,200}wrote:|-{2,}\s*Original Message\s*-{2,}|-{2,}\s*Forwarded message\s*-{2,}|"
    r"From:\s.+|发件人[:：].+|在.{2,60}写道[:：]|-{2,}\s*原始邮件\s*-{2,})\s*$",
    re.IGNORECASE,
)
_SIGNATURE_START = re.compile(
    r"^\s*(?:--\s*|__+|Best(?: regards)?,?|Kind regards,?|Regards,?|Cheers,?|Thanks(?: and regards)?,|"
    r"Sincerely,?|Sent from my \w+.*|此致|敬礼|祝好|顺祝商祺|发自我的\w+.*|Get Outlook for \w+.*)\s*$",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"(?:This (?:e-?mail|message) and any attachments? (?:are|is) confidential|CONFIDENTIALITY NOTICE|"
    r"本邮件(?:及其附件)?(?:含有|包含)?.{0,10}(?:保密|机密)).*",
    re.IGNORECASE | re.DOTALL,
)
_GREETING = re.compile(
    r"^\s*(?:(?:hi|hello|hey|dear)\b[^\n,，!！]{0,40}[,，!！]?|(?:您好|你好|亲爱的[^\n，,]{0,10})[，,！!]?|"
    r"good (?:morning|afternoon|evening)[^\n,]{0,30}[,!]?)\s*",
    re.IGNORECASE,
)
_EMOJI = re.compile("[\U0001f300-\U0001faff\U00002600-\U000027bf\U0001f000-\U0001f2ff\ufe0f\u200d]+")
_MENTION = re.compile(r"(?<![\w.])@[\w\u4e00-\u9fff]{2,30}(?![\w.@])")
_REDACTED = re.compile(r"XX/XX/(?:X{2,4}|\d{2,4})|X{4,}|(?<![A-Za-z])XXX?(?![A-Za-z])")
_AMOUNT = re.compile(r"\{\$\s*amount\s*\}", re.IGNORECASE)
_MONEY = re.compile(r"\{\$\s*([\d,]+(?:\.\d+)?)\s*\}")
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_KEEP_CJK_PUNCT = {ord(c) for c in "，！？：；（）"}


def normalize_width(text: str) -> str:
    """Full-width letters, digits and symbols to ASCII (Ｈｕｂ Ｘ２ -> Hub X2) and the ideographic space to
    a space; Chinese punctuation (，！？：；（）) is kept as written."""
    table = {k: v for k, v in _FULLWIDTH.items() if k not in _KEEP_CJK_PUNCT}
    table[0x3000] = 0x20
    return text.translate(table)


def strip_quoted(text: str) -> str:
    """Drop '>'-quoted lines and everything from a reply header ("On ... wrote:", "发件人:") on."""
    out: list[str] = []
    for line in text.splitlines():
        if _QUOTE_HEADERS.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        out.append(line)
    return "\n".join(out)


def strip_signature(text: str) -> str:
    """Cut at a sign-off or signature delimiter, and drop legal disclaimers."""
    text = _DISCLAIMER.sub("", text)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if i > 0 and _SIGNATURE_START.match(line):
            return "\n".join(lines[:i])
    return text


def strip_greeting(text: str) -> str:
    return _GREETING.sub("", text, count=1)


def readable_redactions(text: str) -> str:
    """``XXXX``/``XX/XX/2019`` -> ``[REDACTED]``, ``{$amount}`` -> ``[AMOUNT]``, ``{$2400.00}`` -> ``$2400.00``:
    readable, and tokenizable. Redaction runs glued to words in exports (``XXXXday``) are caught too."""
    text = _MONEY.sub(lambda m: "$" + m.group(1), _AMOUNT.sub("[AMOUNT]", text))
    return _REDACTED.sub("[REDACTED]", text)


def handle_emoji_and_mentions(text: str) -> str:
    return _MENTION.sub("@user", _EMOJI.sub(" ", text))


def collapse_whitespace(text: str) -> str:
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_HTML_TAG = re.compile(r"<(?:html|body|div|p|br|span|table|blockquote|a)\b[^>]*>", re.IGNORECASE)
_QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "OutlookMessageHeader", "divRplyFwdMsg")


def html_message_to_text(html: str) -> str:
    """An HTML e-mail as text: quoted replies (``<blockquote>``, Gmail/Outlook quote containers) dropped,
    then headings, paragraphs, list items and tables kept as lines."""
    from bs4 import BeautifulSoup

    from ingest.formats.html import html_blocks

    soup = BeautifulSoup(html, "lxml")
    for node in soup.find_all("blockquote"):
        node.decompose()
    for cls in _QUOTE_CLASSES:
        for node in soup.find_all(class_=cls) + soup.find_all(id=cls):
            node.decompose()
    return "\n".join(b.text for b in html_blocks(str(soup)))


def clean_message(text: str) -> str:
    """The whole cleaning of one customer or agent message, in order (HTML first, when it is HTML)."""
    if _HTML_TAG.search(text):
        text = html_message_to_text(text)
    text = normalize_width(text)
    text = strip_quoted(text)
    text = strip_signature(text)
    text = strip_greeting(text)
    text = readable_redactions(text)
    text = handle_emoji_and_mentions(text)
    return collapse_whitespace(text)
