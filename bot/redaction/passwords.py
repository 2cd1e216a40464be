"""Passwords, PINs and Wi-Fi keys named by a cue before them: "my password is X", "PIN 4821"."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.redaction.kinds import Kind
from bot.redaction.patterns import PIN, PW_LOOSE, PW_STRICT, WIFI_KEY, WIFI_QR, Span, scan
from bot.redaction.values import (
    QUOTES,
    UNIT_AFTER_RE,
    core,
    is_prose_or_placeholder,
    passwordish,
)

_GATES = ("pass", "pw", "pin", "kennwort", "wachtwoord", "senha", "contrase")


def detect_passwords(text: str, lowered: str) -> Iterator[Span]:
    if not any(g in lowered for g in _GATES):
        return
    yield from scan(PW_STRICT, text, lowered, _accept_strict)
    yield from scan(PW_LOOSE, text, lowered, _accept_loose)


def _accept_strict(m: re.Match[str], text: str) -> Span | None:
    return _password_span(m, text, loose=False)


def _accept_loose(m: re.Match[str], text: str) -> Span | None:
    return _password_span(m, text, loose=True)


def _password_span(m: re.Match[str], text: str, *, loose: bool) -> Span | None:
    cue = m.group("cue").lower()
    start, end = m.span("value")
    value = text[start:end]
    bare = core(value)
    if len(bare) < 3 or is_prose_or_placeholder(bare):
        return None
    if bare.isdigit() and UNIT_AFTER_RE.match(text, end):
        return None
    if cue.startswith("pin"):
        return (start, end, Kind.PIN) if PIN.fullmatch(bare) else None
    quoted = value[0] in QUOTES and value[-1] in QUOTES and len(value) > 1
    needs_shape = loose or bool(m.group("to")) or cue == "pass" or bool(m.groupdict().get("far"))
    if needs_shape and not quoted and not passwordish(bare):
        return None
    return start, end, Kind.PASSWORD


def detect_wifi_keys(text: str, lowered: str) -> Iterator[Span]:
    if "wifi:" in lowered:
        for m in WIFI_QR.finditer(text):
            yield m.start("value"), m.end("value"), Kind.WIFI_KEY
    if "key" in lowered or "wpa" in lowered or "psk" in lowered:
        yield from scan(WIFI_KEY, text, lowered, _accept_wifi_key)


def _accept_wifi_key(m: re.Match[str], text: str) -> Span | None:
    start, end = m.span("value")
    bare = core(text[start:end])
    if not 8 <= len(bare) <= 64 or is_prose_or_placeholder(bare):
        return None
    return start, end, Kind.WIFI_KEY
