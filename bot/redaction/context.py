"""The words around a candidate value: which cue names it, and which label says it is harmless.

Numbers and codes are secrets or not by what surrounds them: "MFA code 482913" is a one-time
code, "order number 482913" is not, and "482913 is the code Microsoft texted me" names it
afterwards. The context is the same clause on either side of the value, cut at a sentence end
and at the next long number (which has its own context), and the nearest cue wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.redaction.kinds import Kind

_LEFT, _RIGHT = 48, 40
# A sentence end ("no." and "nr." are abbreviations), a blank line, or another long number.
_CUT = r"(?:(?<!\bno)(?<!\bnr)\.|[!?])(?:\s|$)|\n\s*\n|\d{4}"
_LEFT_CUT_RE = re.compile(r".*(?:" + _CUT + ")", re.DOTALL)
_RIGHT_CUT_RE = re.compile(_CUT)

# Labels that make the number next to them an ordinary identifier: "order number 882716",
# "error code 80070005", "ticket 4821937", "482913 is my employee number".
_LABELS = r"""
    error | err | exit | status | return | event | http | response | reason
  | zip | postal | postcode | post | area | country | dial | product | promo | discount | coupon
  | voucher | tracking | order | invoice | po | purchase | ticket | case | incident | inc | req
  | request | ref | reference | room | ext | extension | tel | telephone | fax | call
  | (?:phone | mobile | cell) \s* (?:number | no\.? | nr\.? | \#)
  | cost \s+ cent(?:er|re) | employee | staff | personnel | badge | asset | serial | build
  | version | model | part | sku | kb | port | pid | process | id | ip | account | acct | line
  | page | floor | gate | flight | seat | qty | quantity | amount | total | size | meeting
  | conference | bridge | license | licence | issue | bug | commit | job | batch | transaction
  | txn | receipt | (?:confirmation | booking | reservation) \s* (?:number | no\.? | nr\.?)
  | shipment | parcel | policy | claim | member | membership | customer | client | vendor
  | supplier | contract | project | imei | iccid | vat | kvk | coc
"""
_LABEL_BEFORE_RE = re.compile(
    r"(?<![\w-])(?:"
    + _LABELS
    + r""")
    (?:\s+(?:code|number|no\.?|nr\.?|num|id|\#))? \s* (?:is|was|=|:|\#|-)? \s* $""",
    re.VERBOSE,
)
_LABEL_AFTER_RE = re.compile(
    r"""^ \s* (?:is|was|[-–—:,])? \s* (?:(?:my|the|our|your|an?)\s+)? (?:""" + _LABELS + r")\b",
    re.VERBOSE,
)

# "code" names a one-time code unless a word before it says which other code it is.
_CODE_RE = re.compile(r"(?<![\w-])(?:(?P<before>[\w-]+)\s+)?codes?(?![\w-])")
_OTHER_CODES = frozenset(
    """error err exit status return event http response reason zip postal post area country
    dial product promo discount coupon voucher tracking cost billing source qr bar sort fault
    stop colour color hex ascii unicode language airport iata tax vat activation license
    licence install installer setup dress morse shortcut sample example html python""".split()
)


class Cue(Protocol):
    """A compiled cue: a regular expression, or anything that finds matches like one."""

    def finditer(self, text: str, /) -> Iterable[re.Match[str]]: ...

    def search(self, text: str, /) -> re.Match[str] | None: ...


@dataclass(frozen=True, slots=True)
class Context:
    """The lower-cased clause before a value (``left``) and after it (``right``)."""

    left: str
    right: str

    @classmethod
    def around(cls, lowered: str, start: int, end: int) -> Context:
        left = lowered[max(0, start - _LEFT) : start]
        if cut := _LEFT_CUT_RE.match(left):
            left = left[cut.end() :]
        right = lowered[end : end + _RIGHT]
        if cut2 := _RIGHT_CUT_RE.search(right):
            right = right[: cut2.start()]
        return cls(left, right)

    def labelled_harmless(self) -> bool:
        return bool(_LABEL_BEFORE_RE.search(self.left) or _LABEL_AFTER_RE.match(self.right))

    def nearest(self, cues: Sequence[tuple[Kind, Cue]]) -> list[Kind]:
        """The kinds whose cue is in the context, nearest first (ties: the order of ``cues``)."""
        found: list[tuple[int, int, Kind]] = []
        for order, (kind, cue) in enumerate(cues):
            distance = min(
                (len(self.left) - m.end() for m in cue.finditer(self.left)), default=None
            )
            after = cue.search(self.right)
            if after is not None and (distance is None or after.start() < distance):
                distance = after.start()
            if distance is not None:
                found.append((distance, order, kind))
        return [kind for _, _, kind in sorted(found)]


class OneTimeCodeCue:
    """A cue for one-time codes: the names of second factors, or "code" that is no other code."""

    _NAMES_RE = re.compile(
        r"""(?<![\w-])(?:otp | one[- ]?time | mfa | 2fa | 2sv | two[- ]?(?:factor|step) | 2[- ]step
        | multi[- ]?factor | authenticator | authy | verification | verify | sms | texted
        | text \s+ message | duo | okta | securid | rsa \s+ token)(?![\w-])""",
        re.VERBOSE,
    )

    def finditer(self, text: str) -> list[re.Match[str]]:
        found = list(self._NAMES_RE.finditer(text))
        found += [m for m in _CODE_RE.finditer(text) if m["before"] not in _OTHER_CODES]
        return sorted(found, key=lambda m: m.start())

    def search(self, text: str) -> re.Match[str] | None:
        found = self.finditer(text)
        return found[0] if found else None


ONE_TIME_CODE_CUE = OneTimeCodeCue()
SSN_CUE = re.compile(
    r"""(?<![\w-])(?:ssn | ss\s?\# | social \s+ security | social(?=\s+(?:is|was|number|no|\#|:))
    | soc\.?\s+sec)(?![\w-])""",
    re.VERBOSE,
)
BSN_CUE = re.compile(
    r"""(?<![\w-])(?:bsn | burger \s? service \s? nummer | sofi(?:[- ]?(?:nummer|number|nr))?
    | citizen \s+ service \s+ number | digid | belastingdienst)(?![\w-])""",
    re.VERBOSE,
)
PASSPORT_CUE = re.compile(
    r"(?<![\w-])(?:passports? | paspoort | reisepass | passeport | pasaporte | passaporto"
    r" | travel \s+ document)(?![\w-])",
    re.VERBOSE,
)
RECOVERY_CUE = re.compile(
    r"(?<![\w-])(?:recovery | backup | back-up | rescue | scratch | emergency | bypass)"
    r"\s+(?:codes? | keys?)(?![\w-])",
    re.VERBOSE,
)
NI_CUE = re.compile(
    r"(?<![\w-])(?:national \s+ insurance | ni \s* (?:number|no\.?|nr\.?|\#) | nino | ni)(?![\w-])",
    re.VERBOSE,
)

_LIST_GAP_RE = re.compile(r"\s*(?:[,;/|&]|and|or|en|und)?\s*", re.IGNORECASE)


def is_list_gap(gap: str) -> bool:
    """Whether ``gap`` only separates two items of a list ("a, b", "a and b", "a\\nb")."""
    return _LIST_GAP_RE.fullmatch(gap) is not None
