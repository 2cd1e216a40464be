"""Redaction of one text or one JSON-like value: run every detector, merge, replace.

Each secret is replaced by ``[redacted <kind>]``. Replacement markers never match any pattern,
so redacting twice is a no-op.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.redaction.detectors import KEYS, applicable
from bot.redaction.kinds import RANK, Kind
from bot.redaction.patterns import Detector


@dataclass(frozen=True, slots=True)
class Finding:
    """One secret: its kind and its span ``text[start:end]`` in the original text."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text and what was removed from it."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def found(self) -> bool:
        return bool(self.findings)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(f.kind for f in self.findings)


def redact(text: str) -> Redaction:
    """Find secrets in ``text`` and replace each with ``[redacted <kind>]``.

    Overlapping findings are merged into one; the earliest (then longest, then most specific,
    see :class:`Kind`) finding names the merged span.
    """
    spans = _find(KEYS, text)
    rest = _blank(text, spans) if spans else text
    spans += _find(applicable(rest), rest)
    if spans and "[redacted " in text:
        spans = _outside_markers(text, spans)
    if not spans:
        return Redaction(text, ())
    spans.sort()
    findings: list[Finding] = []
    cur_start, cur_end, cur_kind = spans[0][0], -spans[0][1], spans[0][3]
    for start, neg_end, _, kind in spans[1:]:
        if start < cur_end:
            cur_end = max(cur_end, -neg_end)
            continue
        findings.append(Finding(str(cur_kind), cur_start, cur_end))
        cur_start, cur_end, cur_kind = start, -neg_end, kind
    findings.append(Finding(str(cur_kind), cur_start, cur_end))
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts.append(text[pos : f.start])
        parts.append(f"[redacted {f.kind}]")
        pos = f.end
    parts.append(text[pos:])
    return Redaction("".join(parts), tuple(findings))


def _find(detectors: tuple[Detector, ...], text: str) -> list[tuple[int, int, int, str]]:
    lowered = text.lower()
    spans = []
    for detector in detectors:
        for start, end, kind in detector(text, lowered):
            if end > start:
                spans.append((start, -end, RANK[kind], kind))
    return spans


def _outside_markers(
    text: str, spans: list[tuple[int, int, int, str]]
) -> list[tuple[int, int, int, str]]:
    """The spans that overlap no replacement marker: what was redacted stays as it is."""
    markers = [m.span() for m in _MARKER_RE.finditer(text)]
    return [s for s in spans if not any(a < -s[1] and s[0] < b for a, b in markers)]


def _blank(text: str, spans: list[tuple[int, int, int, str]]) -> str:
    """``text`` with the spans replaced by spaces (line breaks kept), so offsets still match."""
    for start, neg_end, _, _ in spans:
        text = text[:start] + _NOT_NEWLINE_RE.sub(" ", text[start:-neg_end]) + text[-neg_end:]
    return text


def redact_text(text: str) -> str:
    """Shorthand for ``redact(text).text``."""
    return redact(text).text


# Keys whose string values are credentials whatever they look like (JSON payloads, form fields).
# Not "pwd": in environment dumps PWD is the working directory.
_SENSITIVE_KEYS: dict[str, Kind] = {
    "password": Kind.PASSWORD,
    "passwd": Kind.PASSWORD,
    "passcode": Kind.PASSWORD,
    "secret": Kind.API_KEY,
    "client_secret": Kind.API_KEY,
    "signing_secret": Kind.API_KEY,
    "api_key": Kind.API_KEY,
    "apikey": Kind.API_KEY,
    "token": Kind.API_KEY,
    "access_token": Kind.API_KEY,
    "refresh_token": Kind.API_KEY,
    "id_token": Kind.API_KEY,
    "bot_token": Kind.API_KEY,
    "authorization": Kind.BEARER_TOKEN,
    "private_key": Kind.PRIVATE_KEY,
}
_MARKER_RE = re.compile(r"\[redacted [a-z_]+\]")
_NOT_NEWLINE_RE = re.compile(r"[^\n]")


def redact_obj(value: object) -> object:
    """Recursively redact the strings in a JSON-like value (dicts, lists, tuples).

    Strings under a credential key ("password", "token", "client_secret", ...) are replaced
    whole. Dict keys and non-string scalars are kept; dict subclasses come back as plain dicts.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        out: dict[object, object] = {}
        for key, item in value.items():
            name = key.lower().replace("-", "_") if isinstance(key, str) else ""
            kind = _SENSITIVE_KEYS.get(name)
            if kind and isinstance(item, str) and item and not _MARKER_RE.fullmatch(item):
                out[key] = f"[redacted {kind}]"
            else:
                out[key] = redact_obj(item)
        return out
    if isinstance(value, list):
        return [redact_obj(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_obj(item) for item in value)
    return value
