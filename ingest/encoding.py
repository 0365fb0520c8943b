"""Bytes to text: BOMs and UTF-8 first, then charset-normalizer; what cannot be decoded is refused."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes

from core.errors import BadInput

# The encodings a Chinese/English support organisation's exports come in. Restricting the search keeps
# charset-normalizer from choosing exotic code pages (cp775, cp1006) for short Western European text.
CANDIDATES = ("utf_8", "utf_16", "utf_32", "gb18030", "big5", "cp932", "euc_jp", "euc_kr", "cp1252",
              "cp1250", "cp1251", "iso8859_15")
# When several candidates are equally likely (same mess and coherence scores), the most common one wins:
# cp1252 and cp1250 tie on French text, and only cp1252 reads "à" right.
_PREFERRED = ("utf_8", "gb18030", "big5", "cp932", "cp1252", "cp1251", "cp1250")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
MAX_CHAOS = 0.3  # above this share of "mess" the bytes are not text in any candidate encoding


@dataclass(frozen=True)
class Decoded:
    """Decoded text, the codec that decoded it, how sure the detection is (1.0 for a BOM or valid UTF-8;
    else 1 - charset-normalizer's mess ratio), and how many bytes were replaced (U+FFFD) or NULs dropped."""

    text: str
    encoding: str
    confidence: float = 1.0
    replaced: int = 0
    guessed: bool = False

    def label(self) -> str:
        """``cp1252 (confidence 1.00)``; plain ``utf-8`` when nothing was guessed or replaced."""
        notes = []
        if self.guessed or self.confidence < 1.0:
            notes.append(f"confidence {self.confidence:.2f}")
        if self.replaced:
            notes.append(f"{self.replaced} undecodable byte(s) replaced")
        return f"{self.encoding} ({', '.join(notes)})" if notes else self.encoding


def _without_nul(text: str) -> tuple[str, int]:
    return text.replace("\x00", ""), text.count("\x00")


def _stray_bytes_in_ascii(data: bytes, valid_non_ascii: int) -> bool:
    """ASCII text with a few 0xFE/0xFF bytes: never valid UTF-8, and their Windows-125x readings (þ ÿ ţ ˙)
    are too rare in support text to be what was meant, so they are stray bytes, not a legacy encoding."""
    if valid_non_ascii:
        return False
    high = [b for b in data if b > 127]
    return 0 < len(high) <= max(1, len(data) // 100) and all(b in (0xFE, 0xFF) for b in high)


def _codec(name: str) -> str:
    return codecs.lookup(name).name


def decode(data: bytes) -> Decoded:
    """Decode a text file's bytes.

    1. a BOM (UTF-8, UTF-16, UTF-32) decides;
    2. valid UTF-8 is UTF-8;
    3. UTF-8 with a few stray bytes (more valid non-ASCII characters than bad bytes, e.g. one 0xFF in a
       Chinese article) is UTF-8 with the bad bytes replaced;
    4. otherwise charset-normalizer chooses among :data:`CANDIDATES` (cp1252 for an Excel CSV from Western
       Europe, GB18030, Shift-JIS/cp932, Big5, ...);
    5. bytes that no candidate decodes without mess (binary data, random bytes) are ``BadInput``.
    NUL characters are dropped (they are never content and some databases refuse them)."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                text, nul = _without_nul(data.decode(name))
            except UnicodeDecodeError as exc:
                raise BadInput(f"starts with a {name} byte-order mark but is not {name}: {exc.reason}") from exc
            return Decoded(text, name, 1.0, nul)
    try:
        text, nul = _without_nul(data.decode("utf-8"))
        return Decoded(text, "utf-8", 1.0, nul)
    except UnicodeDecodeError:
        pass
    loose = data.decode("utf-8", errors="replace")
    bad = loose.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
    valid_non_ascii = sum(1 for ch in loose if ord(ch) > 127 and ch != "\ufffd")
    if 0 < bad < valid_non_ascii or _stray_bytes_in_ascii(data, valid_non_ascii):
        text, nul = _without_nul(loose)
        return Decoded(text, "utf-8", round(1.0 - bad / max(len(loose), 1), 3), bad + nul)
    results = from_bytes(data, cp_isolation=list(CANDIDATES))
    best = results.best()
    if best is None or best.chaos > MAX_CHAOS:
        raise BadInput("cannot decode: not text in UTF-8, UTF-16, GB18030, Big5, Shift-JIS, EUC, "
                       "Windows-125x or Latin-9 (binary or corrupt data?)")
    tied = [r for r in results if (r.chaos, r.coherence) == (best.chaos, best.coherence)]
    name, chosen = next(((p, r) for p in _PREFERRED for r in tied if p in (r.encoding, *r.could_be_from_charset)),
                        (best.encoding, best))
    text, nul = _without_nul(str(chosen))
    return Decoded(text, _codec(name), round(1.0 - best.chaos, 3), nul, guessed=True)


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Text and the codec name (see :func:`decode`)."""
    decoded = decode(data)
    return decoded.text, decoded.encoding


__all__ = ["CANDIDATES", "Decoded", "decode", "decode_bytes"]
