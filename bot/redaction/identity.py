"""Identifiers with letters: IBANs, UK National Insurance numbers, passports, recovery codes.

An IBAN is recognised by its country's length and the mod-97 check, a National Insurance
number by its letter rules (a cue allows the suffix letter to be left out), and the passport
line of a machine-readable zone by its check digits; none needs a cue. A passport number
with letters needs a cue in its clause. GitHub recovery codes have a shape of their own
(``3f9a2-81c0d``); the grouped codes of Microsoft and Apple accounts look like product keys,
so they need a recovery cue.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.redaction.checksums import iban_length, iban_ok, mrz_passport_line_ok, nino_ok
from bot.redaction.context import NI_CUE, PASSPORT_CUE, RECOVERY_CUE, Context, is_list_gap
from bot.redaction.kinds import Kind
from bot.redaction.patterns import Span

# Regexes start with a digit or a literal where they can: the regex engine then skips ahead fast.
_IBAN_CHECK_RE = re.compile(r"\d\d(?<=[A-Za-z]{2}\d\d)(?=[ ]?[A-Za-z0-9])")
_NI_RE = re.compile(
    r"\d\d(?:(?<=[A-Za-z]{2}\d\d)|(?<=[A-Za-z]{2} \d\d))[ ]?\d{2}[ ]?\d{2}"
    r"(?:[ ]?(?P<suffix>[A-Da-d]))?(?![\w-])"
)
_MRZ_RE = re.compile(r"(?<![A-Z0-9<])[A-Z0-9<]{9}\d[A-Z<]{3}\d{7}[MFX<]\d{7}[A-Z0-9<]{14}[\d<]\d")
_PASSPORT_WORDS = ("passport", "paspoort", "reisepass", "passeport", "pasaporte", "passaporto",
                   "travel doc")  # fmt: skip
_RECOVERY_WORDS = ("recovery", "backup", "back-up", "rescue", "scratch", "emergency", "bypass")
_PASSPORT_RE = re.compile(r"(?<![\w-])[A-Z0-9]{6,9}(?![\w-])")
_GITHUB_CODE_RE = re.compile(r"-(?<=[0-9a-f]{5}-)[0-9a-f]{5}(?![\w-])")
_GROUPED_CODE_RE = re.compile(
    r"(?<![\w-])(?:[A-Z0-9]{5}(?:-[A-Z0-9]{5}){4}|[A-Z0-9]{4}(?:-[A-Z0-9]{4}){6})(?![\w-])"
)


def _word_start(text: str, start: int) -> bool:
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_-")


def detect_ibans(text: str, lowered: str) -> Iterator[Span]:
    for m in _IBAN_CHECK_RE.finditer(text):
        start = m.start() - 2
        length = iban_length(text[start : start + 2])
        if length is None or not _word_start(text, start):
            continue
        chars, pos = [text[start : m.end()]], m.end()
        need = length - 4
        while need and pos < len(text):
            ch = text[pos]
            if ch.isascii() and ch.isalnum():
                chars.append(ch)
                need -= 1
            elif not (ch == " " and text[pos + 1 : pos + 2].isalnum()):
                break
            pos += 1
        if need or text[pos : pos + 1].isalnum():
            continue
        if iban_ok("".join(chars)):
            yield start, pos, Kind.IBAN


def detect_ni_numbers(text: str, lowered: str) -> Iterator[Span]:
    for m in _NI_RE.finditer(text):
        start = m.start() - (3 if text[m.start() - 1] == " " else 2)
        if not _word_start(text, start):
            continue
        value = text[start : m.end()].replace(" ", "")
        letters = value[:2] + (m["suffix"] or "")
        if not (letters.isupper() or letters.islower()) or not nino_ok(value):
            continue
        if m["suffix"] is None:
            context = Context.around(lowered, start, m.end())
            if not context.nearest(((Kind.NI_NUMBER, NI_CUE),)):
                continue
        yield start, m.end(), Kind.NI_NUMBER


def detect_passports(text: str, lowered: str) -> Iterator[Span]:
    if "<<" in text:
        for m in _MRZ_RE.finditer(text):
            if mrz_passport_line_ok(m.group()):
                yield m.start(), m.end(), Kind.PASSPORT_NUMBER
    if not any(w in lowered for w in _PASSPORT_WORDS) or PASSPORT_CUE.search(lowered) is None:
        return
    for m in _PASSPORT_RE.finditer(text):
        value = m.group()
        if value.isdigit() or sum(ch.isdigit() for ch in value) < 3:
            continue  # numbers alone are judged with the other numbers
        context = Context.around(lowered, m.start(), m.end())
        if context.labelled_harmless():
            continue
        if context.nearest(((Kind.PASSPORT_NUMBER, PASSPORT_CUE),)):
            yield m.start(), m.end(), Kind.PASSPORT_NUMBER


def detect_recovery_codes(text: str, lowered: str) -> Iterator[Span]:
    for m in _GITHUB_CODE_RE.finditer(text) if "-" in text else ():
        start = m.start() - 5
        value = text[start : m.end()].replace("-", "")
        if _word_start(text, start) and not value.isalpha() and not value.isdigit():
            yield start, m.end(), Kind.RECOVERY_CODE
    if not any(w in lowered for w in _RECOVERY_WORDS) or RECOVERY_CUE.search(lowered) is None:
        return
    named: list[tuple[int, int]] = []
    for m in _GROUPED_CODE_RE.finditer(text):
        context = Context.around(lowered, m.start(), m.end())
        listed = bool(named) and is_list_gap(text[named[-1][1] : m.start()])
        if listed or context.nearest(((Kind.RECOVERY_CODE, RECOVERY_CUE),)):
            named.append(m.span())
            yield m.start(), m.end(), Kind.RECOVERY_CODE
