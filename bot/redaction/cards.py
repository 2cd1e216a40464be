"""Payment card numbers: a digit run with a card layout, an issuer prefix and the Luhn checksum."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.redaction.checksums import luhn_ok, plausible_card
from bot.redaction.kinds import Kind
from bot.redaction.patterns import Span

# A run of 13+ digits separated by at most single spaces or dashes, starting a digit run.
# (The look-behinds follow the first \d so that the scan fails fast on non-digits.)
_DIGIT_RUN_RE = re.compile(r"\d(?<!\d\d)(?<!\d[ -]\d)(?:[ -]?\d){12,}")
_DIGIT_GROUP_RE = re.compile(r"\d+")


def _valid_grouping(groups: list[str]) -> bool:
    """Card layouts: one block, or 4 digits followed by blocks of 4-6 (the last may be 1-6)."""
    if len(groups) == 1:
        return True
    if len(groups[0]) != 4:
        return False
    middle_ok = all(4 <= len(g) <= 6 for g in groups[1:-1])
    return middle_ok and 1 <= len(groups[-1]) <= 6


def detect_cards(text: str, lowered: str) -> Iterator[Span]:
    for run in _DIGIT_RUN_RE.finditer(text):
        start, end = run.span()
        before = text[start - 1] if start else ""
        after = text[end : end + 2]
        # A run glued to an identifier (REQ0001234567890, 0x8007...), a phone number (+44 ...),
        # a decimal number, a date or a dotted address cannot start or end a card number.
        head_blocked = before != "" and (before.isalnum() or before in "_+./\\")
        tail_blocked = after[:1].isalnum() or after[:1] == "_"
        if len(after) == 2 and after[0] in "./:-" and after[1].isdigit():
            tail_blocked = True
        matches = list(_DIGIT_GROUP_RE.finditer(run.group()))
        groups = [g.group() for g in matches]
        offsets = [g.start() for g in matches]
        last = len(groups) - 1
        # Scan windows of whole groups left to right, longest first; a run may hold a card
        # followed by a CVV or an expiry month ("4111 1111 1111 1111 123", "4111... 12/27").
        i = 0
        while i <= last:
            if len(groups[i]) != 4 and len(groups[i]) < 13:
                i += 1  # no card layout starts with this group
                continue
            # Windows never exceed 19 digits, which keeps long digit runs linear.
            j_max, count = i, len(groups[i])
            while j_max < last and count + len(groups[j_max + 1]) <= 19:
                j_max += 1
                count += len(groups[j_max])
            for j in range(j_max, i - 1, -1):
                if (i == 0 and head_blocked) or (j == last and tail_blocked):
                    continue
                window = groups[i : j + 1]
                digits = "".join(window)
                if len(digits) < 13 or not _valid_grouping(window):
                    continue
                if plausible_card(digits) and luhn_ok(digits):
                    yield start + offsets[i], start + offsets[j] + len(groups[j]), Kind.CARD_NUMBER
                    i = j
                    break
            i += 1
