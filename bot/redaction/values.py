"""Whether a candidate value is a secret or ordinary text.

Detectors find a value next to a cue ("password is ...", "token=...") or by its shape; these
checks reject what follows such a cue in ordinary prose ("my password is not working"),
placeholders (``${DB_PASSWORD}``, ``<password>``, ``********``), addresses and rules ("8
characters long").
"""

from __future__ import annotations

import re

# Words that follow a password cue in ordinary prose ("my password is not working"). A value equal
# to one of them (case-insensitive, surrounding punctuation ignored) is not a secret.
_STOP_WORDS_TEXT = """
    a about above accepted actually after again all already also always an and any anything
    are as asked at bad been before being blank blocked both broken but by can case-sensitive
    change changed changing characters chars complex compromised correct could currently
    definitely denied different disabled does done due easy empty enabled expire expired expires
    expiring exposed failing false fine fixed for forgot forgotten from generated gone good
    going hacked hard has have hidden how i identical if in incorrect insecure invalid is it its
    just known leaked less like literally locked long longer lost mandatory masked may me messed
    might missing more must my n/a na needed never new nil no none not nothing now null of off
    ok okay old on only optional or our out over please probably prompted really redacted
    rejected required reset right safe same saved secure sensitive sent set shared short shorter
    should similar simple simply so some something still stolen stored strong stuck such synced
    tbd that the their them then there these they this those to too true typed under unchanged
    unknown unlocked until updated used valid very was weak what whatever when which who why will
    with without working would wrong yes you your
    ask asking attached below call case check click contact default email enter follow given
    look pending provided refer request requested see send talk try tried use
    allowed confidential enforced mine personal private protected temporary unique visible yours
    best cheers dear hello hi regards thank thanks
    abgelaufen falsch gesperrt nicht vergessen noch jetzt
    expiré oublié bloqué incorrecte pas est
    incorrecta caducada bloqueada olvidada es
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

# Placeholders and masked values that are not secrets: ${DB_PASSWORD}, <password>, ********, xxxx.
_PLACEHOLDER_RE = re.compile(
    r"""
      \$\{?[\w.-]*\}?        # ${VAR} / $VAR
    | %[\w.-]+%              # %VAR%
    | \{\{.*\}\}             # {{ template }}
    | <[^<>]*>               # <password>
    | (?i:x{3,}|redacted|hidden|masked|removed)
    """,
    re.VERBOSE,
)
# A lower-case participle or adverb is prose, not a password ("passwords are hashed").
_PROSE_WORD_RE = re.compile(r"[a-z]+(?:ed|ing|ly)")
URL_OR_PATH_RE = re.compile(r"(?i)^(?:[a-z][a-z0-9+.-]*://|www\.|/|~/|[a-z]:\\)")
EMAIL_RE = re.compile(r"^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$")
# "password is 8 characters long": a number followed by a unit is a rule, not a password.
UNIT_AFTER_RE = re.compile(
    r"\s+(?:characters?|chars?|digits?|letters?|symbols?|days?|weeks?|months?|years?|hours?"
    r"|minutes?|mins?|times?|attempts?|tries|long|or\s+more|or\s+longer)\b",
    re.IGNORECASE,
)
EDGE_PUNCT = "()[]{}<>\"'`“”‘’.,!?;:"
QUOTES = "\"'`“”‘’"
STRONG_SYMBOLS = frozenset("!@#$%^&*+=?~|\\")


def core(value: str) -> str:
    """The value without surrounding quotes and punctuation, for plausibility checks only."""
    return value.strip(EDGE_PUNCT)


def is_prose_or_placeholder(core: str) -> bool:
    if not any(ch.isalnum() for ch in core):
        return True  # "********", "-", "?"
    words = core.lower().split()
    if all(w.strip(EDGE_PUNCT) in STOP_WORDS for w in words):
        return True  # "not", "case sensitive"
    if _PROSE_WORD_RE.fullmatch(core):
        return True  # "hashed", "expiring", "apparently"
    if _PLACEHOLDER_RE.fullmatch(core):
        return True
    return bool(URL_OR_PATH_RE.match(core) or EMAIL_RE.match(core))


def passwordish(core: str) -> bool:
    """Whether a value looks like a password even without an explicit "is"/":" connector."""
    if len(core) < 6:
        return False
    return any(ch.isdigit() for ch in core) or any(ch in STRONG_SYMBOLS for ch in core)


def tokenish(value: str, *, strict: bool = False) -> bool:
    """Whether a value looks like a random machine credential rather than a word."""
    if len(value) < 8:
        return False
    has_digit = any(ch.isdigit() for ch in value)
    has_alpha = any(ch.isalpha() for ch in value)
    if strict:
        return has_digit and has_alpha
    mixed_case = any(ch.isupper() for ch in value) and any(ch.islower() for ch in value)
    return has_digit or mixed_case or len(value) >= 20
