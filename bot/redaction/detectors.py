"""Every detector, which of them a text needs, and the detectors for keys and tokens.

A detector gets the text and its lower-cased form and yields ``(start, end, kind)`` spans in the
original text. Redaction runs on every turn, so an ordinary message must cost little: detectors
that need a digit or a symbol are skipped for texts without one (:func:`applicable`), and the
others first look for a cheap substring (their gate).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.redaction import patterns as p
from bot.redaction.bare import detect_bare_passwords
from bot.redaction.cards import detect_cards
from bot.redaction.identity import (
    detect_ibans,
    detect_ni_numbers,
    detect_passports,
    detect_recovery_codes,
)
from bot.redaction.keys import detect_key_bodies
from bot.redaction.kinds import Kind
from bot.redaction.numbers import detect_numbers
from bot.redaction.passwords import detect_passwords, detect_wifi_keys
from bot.redaction.patterns import Detector, Span, scan
from bot.redaction.trailing import detect_named_after
from bot.redaction.values import core, is_prose_or_placeholder, tokenish


@dataclass(frozen=True, slots=True)
class _Shape:
    """A credential recognised by its shape alone, once one of its ``gates`` is in the text
    (in the lower-cased text if ``lower``). ``group`` names the secret inside the match."""

    kind: Kind
    pattern: re.Pattern[str]
    gates: tuple[str, ...]
    lower: bool = False
    group: str | int = 0


_SHAPES = (
    _Shape(Kind.SLACK_WEBHOOK, p.SLACK_WEBHOOK, ("hooks.slack.com",)),
    _Shape(Kind.SLACK_TOKEN, p.SLACK_TOKEN, ("xox", "xapp-")),
    _Shape(
        Kind.GITHUB_TOKEN, p.GITHUB_TOKEN, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")
    ),
    _Shape(Kind.GITLAB_TOKEN, p.GITLAB_TOKEN, ("glpat-",)),
    _Shape(Kind.NPM_TOKEN, p.NPM_TOKEN, ("npm_",)),
    _Shape(Kind.SENDGRID_KEY, p.SENDGRID_KEY, ("SG.",)),
    _Shape(Kind.AZURE_CLIENT_SECRET, p.AZURE_CLIENT_SECRET, ("Q~",)),
    _Shape(Kind.AWS_ACCESS_KEY, p.AWS_ACCESS_KEY, ("AKIA", "ASIA")),
    _Shape(Kind.GOOGLE_API_KEY, p.GOOGLE_KEY, ("AIza",)),
    _Shape(Kind.JWT, p.JWT, ("eyJ",)),
    _Shape(Kind.API_KEY, p.SK_KEY, ("sk-", "sk_", "rk_")),
    _Shape(Kind.AZURE_KEY, p.AZURE_KEY, ("accountkey", "sharedaccess"), lower=True, group="value"),
    _Shape(Kind.SAS_TOKEN, p.SAS_SIG, ("sig=",), group="value"),
    _Shape(Kind.URL_CREDENTIALS, p.URL_CREDENTIALS, ("://",), group="value"),
)


def _detect_shapes(text: str, lowered: str) -> Iterator[Span]:
    # One loop over a table rather than a detector each: most messages pass no gate at all.
    for shape in _SHAPES:
        haystack = lowered if shape.lower else text
        for gate in shape.gates:
            if gate in haystack:
                for m in shape.pattern.finditer(text):
                    yield m.start(shape.group), m.end(shape.group), shape.kind
                break


def _detect_generic_keys(text: str, lowered: str) -> Iterator[Span]:
    if "key" not in lowered and "token" not in lowered and "secret" not in lowered:
        return
    yield from scan(p.GENERIC_KEY, text, lowered, _accept_generic_key)


def _accept_generic_key(m: re.Match[str], text: str) -> Span | None:
    start, end = m.span("value")
    value = text[start:end]
    strict = "is" in m.group("conn").lower()
    if tokenish(value, strict=strict) and not is_prose_or_placeholder(core(value)):
        return start, end, Kind.API_KEY
    return None


def _detect_authorization(text: str, lowered: str) -> Iterator[Span]:
    if "bearer" in lowered:
        for m in p.BEARER.finditer(text):
            if tokenish(m.group("value"), strict=True):
                yield m.start("value"), m.end("value"), Kind.BEARER_TOKEN
    if "authorization" in lowered:
        for m in p.AUTHORIZATION.finditer(text):
            scheme = (m.group("scheme") or "").lower()
            if scheme == "basic":
                yield m.start("value"), m.end("value"), Kind.BASIC_AUTH
            elif tokenish(m.group("value")):
                yield m.start("value"), m.end("value"), Kind.BEARER_TOKEN


def _detect_aws_secret(text: str, lowered: str) -> Iterator[Span]:
    if "secret" not in lowered:
        return
    aws_context = "aws" in lowered or p.AWS_ACCESS_KEY.search(text) is not None

    def accept(m: re.Match[str], text: str) -> Span | None:
        cue = m.group("cue").lower()
        if "aws" not in cue and "access" not in cue and not aws_context:
            return None  # a bare "secret" cue only counts next to other AWS context
        start, end = m.span("value")
        value = text[start:end]
        if any(c.isupper() for c in value) and any(c.islower() for c in value):
            return start, end, Kind.AWS_SECRET_KEY
        return None

    yield from scan(p.AWS_SECRET, text, lowered, accept)


def _detect_curl_user(text: str, lowered: str) -> Iterator[Span]:
    if "curl" not in lowered:
        return  # "-u user:group" means something else to docker, sudo, ...
    for m in p.CURL_USER.finditer(text):
        group = "quoted" if m.group("quoted") is not None else "bare"
        yield m.start(group), m.end(group), Kind.PASSWORD


def _detect_azure_devops_pats(text: str, lowered: str) -> Iterator[Span]:
    if len(text) < 52 or all(len(word) < 52 for word in text.split()):
        return
    for m in p.AZURE_DEVOPS_PAT.finditer(text):
        value = m.group()
        if len(value) == 84 or sum(c.isdigit() for c in value) >= 4:
            yield m.start(), m.end(), Kind.AZURE_DEVOPS_PAT


_DIGITS = frozenset("0123456789")
# A symbol inside a word, or an exclamation mark ("Sunshine! is my password"); a question mark
# ends most questions and is no sign of a password there.
_SYMBOL_IN_WORD_RE = re.compile(r"[!@#$%^&*+=?~|\\](?=\w)|!")


def _detect_pem_keys(text: str, lowered: str) -> Iterator[Span]:
    if "-----BEGIN" in text:
        for m in p.PRIVATE_KEY.finditer(text):
            yield m.start(), m.end(), Kind.PRIVATE_KEY


# Private keys are found first and blanked out for the other detectors: a key is long, and its
# base64 would otherwise be read as passwords, numbers and codes.
KEYS: tuple[Detector, ...] = (_detect_pem_keys, detect_key_bodies)
# Detectors for every text.
_ALWAYS: tuple[Detector, ...] = (
    _detect_shapes,
    _detect_aws_secret,
    _detect_curl_user,
    _detect_authorization,
    _detect_generic_keys,
    detect_wifi_keys,
    detect_passwords,
)
# Detectors of values that hold a digit or a symbol inside a word (every password, PIN or key
# named after it or not named at all), and of values that always hold digits. Most messages
# hold neither, and skip these at the cost of one check.
_VALUE_CHARACTER: tuple[Detector, ...] = (detect_named_after, detect_bare_passwords)
_DIGIT: tuple[Detector, ...] = (
    _detect_azure_devops_pats,
    detect_cards,
    detect_numbers,
    detect_ibans,
    detect_ni_numbers,
    detect_passports,
    detect_recovery_codes,
)
_WITH_VALUE_CHARACTER = _ALWAYS + _VALUE_CHARACTER
_ALL = _ALWAYS + _VALUE_CHARACTER + _DIGIT


def applicable(text: str) -> tuple[Detector, ...]:
    """The detectors other than :data:`KEYS` that can find something in ``text``."""
    if _DIGITS.isdisjoint(text):
        return _WITH_VALUE_CHARACTER if _SYMBOL_IN_WORD_RE.search(text) else _ALWAYS
    return _ALL
