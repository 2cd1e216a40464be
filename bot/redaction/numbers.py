"""Numbers that are secrets: one-time and backup codes, SSNs, BSNs, passports, BitLocker keys.

Most such numbers look like any other number, so a number counts only when its layout fits the
kind and a cue in its clause names it, before or after ("MFA code 482913", "688136138 is my
BSN"); a nearby label ("order number", "error code", "ticket") makes it harmless whatever else is
said. Layouts and checksums that nothing else shares need no cue: a BitLocker recovery key (eight
blocks of six digits, each a multiple of 11) and an SSN written 3-2-4 within the issued ranges.
A message that is nothing but a six-digit number is a one-time code typed into the wrong window.
Items of a list ("backup codes: 8472 1930, 5521 0046") share the kind of the first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from bot.redaction.checksums import bitlocker_ok, bsn_ok, ssn_ok
from bot.redaction.context import (
    BSN_CUE,
    ONE_TIME_CODE_CUE,
    PASSPORT_CUE,
    RECOVERY_CUE,
    SSN_CUE,
    Context,
    Cue,
    is_list_gap,
)
from bot.redaction.kinds import Kind
from bot.redaction.patterns import Span

# A number: digit groups joined by single spaces, dots or dashes, not glued to a word, an amount,
# a path or a longer number (phone numbers, dates and addresses continue with another group).
# A number: digit groups joined by single spaces, dots or dashes, not glued to a word, an amount,
# a path or a longer number (phone numbers, dates and addresses continue with another group).
# The look-behinds follow the first digit so that the scan skips non-digits fast; "G-" may
# precede the number (Google's SMS codes: G-123456).
_NUMBER_RE = re.compile(
    r"""\d(?<!\d\d)(?<![^\W\d]\d)(?<![+\#$€£%/\\]\d)(?<!\w[.,:/]\d)(?<!\d[ .-]\d)
    (?<![^\W\dG]-\d)(?<!\wG-\d)
    [\d]*(?:[ .-]\d+)*
    (?![\w/%])(?![.,:-]\d)""",
    re.VERBOSE,
)
_SEPARATOR_RE = re.compile(r"[ .-]")

# Cues in the order that settles a tie: a "backup code" is not a one-time code.
_CUES: tuple[tuple[Kind, Cue], ...] = (
    (Kind.RECOVERY_CODE, RECOVERY_CUE),
    (Kind.ONE_TIME_CODE, ONE_TIME_CODE_CUE),
    (Kind.SSN, SSN_CUE),
    (Kind.BSN, BSN_CUE),
    (Kind.PASSPORT_NUMBER, PASSPORT_CUE),
)
# The layouts (group sizes) each kind is written in.
_LAYOUTS: dict[Kind, frozenset[tuple[int, ...]]] = {
    Kind.ONE_TIME_CODE: frozenset({(6,), (7,), (8,), (3, 3), (4, 4)}),
    Kind.RECOVERY_CODE: frozenset({(4, 4), (8,), (9,), (10,), (3, 3, 3)}),
    Kind.SSN: frozenset({(9,), (3, 2, 4)}),
    Kind.BSN: frozenset({(8,), (9,), (4, 2, 3), (3, 3, 3)}),
    Kind.PASSPORT_NUMBER: frozenset({(7,), (8,), (9,)}),
}
_LONE_RE = re.compile(r"[^\d]{0,30}")
_KEY_VALUE_RE = re.compile(r"\s*[\w-]+\s*[:=#]\s*")  # "spin: 482193" labels the number


@dataclass(slots=True)
class _Number:
    start: int
    end: int
    sizes: tuple[int, ...]
    kind: Kind | None


def detect_numbers(text: str, lowered: str) -> Iterator[Span]:
    found: list[_Number] = []
    for m in _NUMBER_RE.finditer(text):
        groups = _SEPARATOR_RE.split(m.group())
        separators = set(_SEPARATOR_RE.findall(m.group()))
        if len(separators) > 1 or len(groups) > 8:
            continue
        sizes = tuple(len(g) for g in groups)
        number = _Number(m.start(), m.end(), sizes, None)
        number.kind = _classify(text, lowered, number, groups, separators)
        found.append(number)
    _share_along_lists(text, found)
    for number in found:
        if number.kind is not None:
            yield number.start, number.end, number.kind


def _classify(
    text: str, lowered: str, number: _Number, groups: list[str], separators: set[str]
) -> Kind | None:
    sizes, digits = number.sizes, "".join(groups)
    if sizes == (6,) * 8 and separators <= {"-", " "} and bitlocker_ok(groups):
        return Kind.BITLOCKER_KEY
    allowed = {kind for kind, layouts in _LAYOUTS.items() if sizes in layouts}
    if not allowed:
        return None
    context = Context.around(lowered, number.start, number.end)
    if context.labelled_harmless():
        return None
    for kind in context.nearest(_CUES):
        if kind in allowed and _valid(kind, digits, separators):
            return kind
    if sizes == (3, 2, 4) and separators <= {"-", " "} and ssn_ok(digits):
        return Kind.SSN
    if sizes in ((6,), (3, 3)) and _alone(text, number):
        return Kind.ONE_TIME_CODE
    return None


def _valid(kind: Kind, digits: str, separators: set[str]) -> bool:
    if kind is Kind.SSN:
        return ssn_ok(digits)
    if kind is Kind.BSN:
        return bsn_ok(digits)
    if kind is Kind.ONE_TIME_CODE:
        return separators <= {"-", " "}
    return True


def _alone(text: str, number: _Number) -> bool:
    """Whether the number is nearly the whole message: a code pasted on its own."""
    before, after = text[: number.start], text[number.end :]
    if _KEY_VALUE_RE.fullmatch(before) and not after.strip():
        return False
    rest = before + " " + after
    return _LONE_RE.fullmatch(rest) is not None and len(rest.split()) <= 5


def _share_along_lists(text: str, found: list[_Number]) -> None:
    """Items of a list with the same layout share the kind of a named neighbour."""
    for pairs in (pairwise(found), pairwise(found[::-1])):
        for named, other in pairs:
            if named.kind is None or other.kind is not None or named.sizes != other.sizes:
                continue
            gap = text[min(named.end, other.end) : max(named.start, other.start)]
            if is_list_gap(gap):
                other.kind = named.kind
