"""Secrets named after them: "I typed P@ssw0rd!2026 as my password", "4821 is my PIN".

The cue is found first (it is rarer than any value), then the words before it are read
backwards: a connector ("is", "was", "as", "for", "- that's", ", which is") with an optional
"my/the", a qualifier or two ("new", "admin", "Workday") and the value just before. The cue
must end the phrase ("as my password", not "my password manager"). The value must still look
like the kind it is named as: a cue after it is weaker evidence than a cue before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.redaction.kinds import Kind
from bot.redaction.patterns import Span, compile_folded, scan
from bot.redaction.values import (
    EDGE_PUNCT,
    is_prose_or_placeholder,
    looks_like_identifier,
    passwordish,
    tokenish,
)

# The cue words; none is inside a group, so the regex engine can skip to their first letters.
_CUE = compile_folded(
    r"""(?:pass(?:word|wd|code|phrase) | pwd | pw | kennwort | passwort | wachtwoord
      | pin(?:\s+code)?
      | wpa[23]?(?:[ -]?psk)?(?:\s+(?:key|passphrase|password))? | psk | pre-?shared\s+key
      | wi-?fi\s+key | wlan\s+key | wireless\s+key | network(?:\s+security)?\s+key
      | api\s+key | access\s+key | client\s+secret | secret(?:\s+key)? | token | pat
      | personal\s+access\s+token)
    (?=\s*$ | \s*[.,;:!?)\]"'] | \s+(?:for|on|to|at|from|and|but|now|right|here|there|though
        |btw|by|in|of|so|when|which|that|i|it|we|they|he|she|you|yesterday|today|last|this
        |three|twice|again|everywhere|since|before|after|until|because|please|pls|thanks|thx
        |or|is|was|does|did|doesn't|didn't|won't|isn't|wasn't|stopped|still|keeps|expired|has
        |had)\b)"""
)
_GATES = ("pass", "pw", "pin", "key", "secret", "token", "pat", "psk", "kennwort", "wachtwoord")

# The words between the value and the cue, read backwards from the cue.
_DETERMINERS = frozenset("my the our your his her a an this that".split())
_QUALIFIERS = frozenset(
    """new old current previous temporary temp initial default admin administrator local
    personal shared actual real one-time""".split()
)
_BE = frozenset("is was are were".split())
_FILLERS = frozenset("still now also just actually".split())
_DASHES = frozenset("- – — = :".split())
_THATS = frozenset("that's that’s thats it's it’s its".split())
_CHOSE = frozenset("use used typed set entered chose picked".split())
_LOOKBACK = 160
_PIN_RE = re.compile(r"\d{4,8}")


def detect_named_after(text: str, lowered: str) -> Iterator[Span]:
    if not any(g in lowered for g in _GATES):
        return
    yield from scan(_CUE, text, lowered, _accept_cue)


def _accept_cue(cue: re.Match[str], text: str) -> Span | None:
    words = _last_words(text, max(0, cue.start() - _LOOKBACK), cue.start())
    at = _value_index([text[a:b].lower().rstrip(",;") for a, b in words])
    if at is None:
        return None
    start, end = words[at]
    return _accept(_kind(cue.group().lower()), text, start, end)


def _last_words(text: str, start: int, end: int, count: int = 12) -> list[tuple[int, int]]:
    """The spans of the last ``count`` whitespace-separated words of ``text[start:end]``."""
    spans: list[tuple[int, int]] = []
    pos = end
    for word in reversed(text[start:end].split()[-count:]):
        at = text.rfind(word, start, pos)
        spans.append((at, at + len(word)))
        pos = at
    return spans[::-1]


def _value_index(words: list[str]) -> int | None:
    """The index of the value in ``words`` (the words just before a cue), or None.

    Reads "<value> <connector> [my|the] [new|admin ...]{0,2} [<noun>]" backwards.
    """
    for noun in (0, 1):
        i = len(words) - 1 - noun
        for _ in range(2):
            if i >= 0 and words[i] in _QUALIFIERS:
                i -= 1
        if i >= 0 and words[i] in _DETERMINERS:
            i -= 1
        first = _connector_start(words, i)
        if first is not None and first > 0:
            return first - 1
    return None


def _connector_start(words: list[str], i: int) -> int | None:
    """The index of the first word of a connector that ends at ``words[i]``."""
    if i < 0:
        return None
    word, before = words[i], words[i - 1] if i else ""
    if word in _FILLERS and before in _BE:
        word, i, before = before, i - 1, words[i - 2] if i > 1 else ""
    if word in _BE:
        if before in ("which", "that"):
            return i - 2 if i > 1 and words[i - 2] in _DASHES else i - 1
        return i
    if word in ("as", "for"):
        chose = i >= 4 and words[i - 1] in _CHOSE and words[i - 2] in ("i", "we")
        if chose and words[i - 3] == "what" and words[i - 4] in _BE:
            return i - 4  # "is what I use as"
        return i
    if word in _THATS:
        return i - 1 if before in _DASHES else i
    if word in _DASHES:
        return i
    return None


def _kind(cue: str) -> Kind:
    if cue.startswith("pin"):
        return Kind.PIN
    if cue.startswith(("pass", "pw", "kennwort", "wachtwoord")):
        return Kind.PASSWORD
    if cue.startswith(("wpa", "psk", "pre", "wi", "wlan", "network")):
        return Kind.WIFI_KEY
    return Kind.API_KEY


def _accept(kind: Kind, text: str, start: int, end: int) -> Span | None:
    value = text[start:end]
    bare = value.strip(EDGE_PUNCT.replace("!", "").replace("?", ""))
    start += value.index(bare) if bare else 0
    end = start + len(bare)
    if not bare or is_prose_or_placeholder(bare.strip(EDGE_PUNCT)):
        return None
    if kind is Kind.PIN:
        ok = _PIN_RE.fullmatch(bare) is not None
    elif kind is Kind.API_KEY:
        ok = len(bare) >= 12 and tokenish(bare, strict=True)
    elif kind is Kind.WIFI_KEY:
        ok = 8 <= len(bare) <= 64 and passwordish(bare)
    else:
        ok = passwordish(bare) and not looks_like_identifier(bare)
    return (start, end, kind) if ok else None
