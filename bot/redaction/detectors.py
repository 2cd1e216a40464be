"""Every detector, in the order that settles ties, and the detectors for keys and tokens.

A detector gets the text and its lower-cased form and yields ``(start, end, kind)`` spans in the
original text. Each one first looks for a cheap substring (its gate) so that an ordinary message
costs one ``in`` test per detector.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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
from bot.redaction.patterns import Detector, Span, has_any, scan
from bot.redaction.trailing import detect_named_after
from bot.redaction.values import core, is_prose_or_placeholder, tokenish


def _whole(
    kind: Kind, pattern: re.Pattern[str], gate: tuple[str, ...], *, lower: bool = False
) -> Detector:
    """A detector that reports whole matches of ``pattern`` (gated by cheap substring tests)."""

    def detect(text: str, lowered: str) -> Iterator[Span]:
        if not has_any(lowered if lower else text, gate):
            return
        for m in pattern.finditer(text):
            yield m.start(), m.end(), kind

    return detect


def _value(
    kind: Kind, pattern: re.Pattern[str], gate: tuple[str, ...], *, lower: bool = False
) -> Detector:
    """A detector that reports the ``value`` group of ``pattern``: the secret, not its label."""

    def detect(text: str, lowered: str) -> Iterator[Span]:
        if not has_any(lowered if lower else text, gate):
            return
        for m in pattern.finditer(text):
            yield m.start("value"), m.end("value"), kind

    return detect


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


_DIGITS = frozenset("0123456789")


def _with_digits(*detectors: Detector) -> Detector:
    """Detectors of things that always hold digits, run only when the text has one."""

    def detect(text: str, lowered: str) -> Iterator[Span]:
        if _DIGITS.isdisjoint(text):
            return
        for detector in detectors:
            yield from detector(text, lowered)

    return detect


def _detect_azure_devops_pats(text: str, lowered: str) -> Iterator[Span]:
    if len(text) < 52 or all(len(word) < 52 for word in text.split()):
        return
    for m in p.AZURE_DEVOPS_PAT.finditer(text):
        value = m.group()
        if len(value) == 84 or sum(c.isdigit() for c in value) >= 4:
            yield m.start(), m.end(), Kind.AZURE_DEVOPS_PAT


# Order matters only for ties (same start and end): the more specific kind wins.
DETECTORS: tuple[Detector, ...] = (
    _whole(Kind.PRIVATE_KEY, p.PRIVATE_KEY, ("-----BEGIN",)),
    detect_key_bodies,
    _whole(Kind.SLACK_WEBHOOK, p.SLACK_WEBHOOK, ("hooks.slack.com",)),
    _whole(Kind.SLACK_TOKEN, p.SLACK_TOKEN, ("xox", "xapp-")),
    _whole(
        Kind.GITHUB_TOKEN, p.GITHUB_TOKEN, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")
    ),
    _whole(Kind.GITLAB_TOKEN, p.GITLAB_TOKEN, ("glpat-",)),
    _whole(Kind.NPM_TOKEN, p.NPM_TOKEN, ("npm_",)),
    _whole(Kind.SENDGRID_KEY, p.SENDGRID_KEY, ("SG.",)),
    _detect_azure_devops_pats,
    _whole(Kind.AZURE_CLIENT_SECRET, p.AZURE_CLIENT_SECRET, ("Q~",)),
    _whole(Kind.AWS_ACCESS_KEY, p.AWS_ACCESS_KEY, ("AKIA", "ASIA")),
    _detect_aws_secret,
    _whole(Kind.GOOGLE_API_KEY, p.GOOGLE_KEY, ("AIza",)),
    _whole(Kind.JWT, p.JWT, ("eyJ",)),
    _whole(Kind.API_KEY, p.SK_KEY, ("sk-", "sk_", "rk_")),
    _value(Kind.AZURE_KEY, p.AZURE_KEY, ("accountkey", "sharedaccess"), lower=True),
    _value(Kind.SAS_TOKEN, p.SAS_SIG, ("sig=",)),
    _value(Kind.URL_CREDENTIALS, p.URL_CREDENTIALS, ("://",)),
    _detect_curl_user,
    _detect_authorization,
    _detect_generic_keys,
    detect_wifi_keys,
    detect_passwords,
    detect_named_after,
    detect_bare_passwords,
    _with_digits(
        detect_cards,
        detect_numbers,
        detect_ibans,
        detect_ni_numbers,
        detect_passports,
        detect_recovery_codes,
    ),
)
