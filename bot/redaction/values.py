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


# --------------------------------------------------------------------------------------------
# Passwords without a cue: shape checks
# --------------------------------------------------------------------------------------------

# Symbols that mark a password inside a token ("Admin@12345", "Tr0ub4dor&3"). The others are
# left out: they join keys (Ctrl+Alt), paths, domains and times, or mark up text and code
# (**bold**, 2**n, ~/dir, a|b).
_BARE_SYMBOLS = frozenset("!@#$%&?")
_DIGITS = frozenset("0123456789")
# The bases people build passwords on (the most common words in breached corporate passwords),
# compared after undoing the usual letter-for-digit swaps. The first group alone, with a digit,
# is a password anywhere; the others only with a symbol or next to a user name.
_SURE_STEMS = ("password", "passwort", "wachtwoord", "welcome", "changeme", "letmein", "qwerty")
_STEMS = (
    *_SURE_STEMS,
    "welkom", "willkommen", "admin", "secret", "summer", "winter", "spring", "autumn", "sommer",
    "zomer", "monkey", "dragon", "sunshine", "iloveyou", "football", "princess", "trustno",
)  # fmt: skip
_UNLEET = str.maketrans("0134@$57", "oieaasst")

# Shapes of the harmless tokens that pass for passwords at a glance.
_IDENTIFIER_RE = re.compile(
    r"""(?ix)
      .*[/\\=:()\[\]{}<>].*                   # paths, DOMAIN\user, times, code, key=value
    | [@\#$%].*                              # @mentions, #channels, $variables, %VAR%
    | .*%[0-9a-f]{2}.*                       # URL-encoded text
    | v?\d+(?:[._-]\d+)+[\w.+-]*             # versions and dates: 4.18.0-beta2, 2026-03-14
    | (?-i:[A-Z]{1,8}[-_\#]?\d{3,})         # tickets and updates: REQ2000001, KB5034441
    | (?:0x)?[0-9a-f]{6,}                    # hex codes, hashes
    | [0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}  # GUIDs
    | (?:ctrl|alt|shift|win|cmd|option|fn)\+.*      # key combinations
    | [a-z]{0,3}[$€£¥][\d,.]+[kmb]?          # amounts
    | (?:ticket|case|order|invoice|issue|bug|pr|item|req|inc|ref|no|nr|room|job|task|story|po)
      \#[a-z]*-?\d+                           # references: Ticket#45821, case#INC0012
    | [a-z]{1,3}&[a-z]{1,3}\d*               # R&D, Q&A, AT&T
    | .+\.(?:exe|msi|docx?|xlsx?|pptx?|pdf|txt|log|csv|zip|png|jpe?g|gif|ps1|bat|cmd|json
        |xml|ya?ml|ini|cfg|conf|iso|dll|sys|pst|ost|html?|py|sh|vhdx?|one|msg|eml)
    """
)


def _unleet(value: str) -> str:
    return value.lower().translate(_UNLEET)


_CLASS_RUN_RE = re.compile(r"[A-Z]+|[a-z]+|\d+|[^A-Za-z\d]+")


def _random_looking(value: str) -> bool:
    """Upper, lower and digits that change class at most characters, as generated secrets do
    ("Xk9mQ2vLp7"), unlike names built from words ("MacBookPro18", "Windows11")."""
    if len(value) < 8 or value.isupper() or value.islower() or _DIGITS.isdisjoint(value):
        return False
    changes = len(_CLASS_RUN_RE.findall(value)) - 1
    return changes >= 0.6 * (len(value) - 1)


def looks_like_identifier(value: str) -> bool:
    """Versions, ticket numbers, hashes, paths, amounts, mentions, file names, e-mail addresses."""
    return bool(_IDENTIFIER_RE.fullmatch(value) or EMAIL_RE.match(value))


def bare_password(token: str, *, in_prose: bool) -> bool:
    """Whether a token with no cue around it is a password.

    ``in_prose``: the token stands in a sentence. Elsewhere (after a user name, alone on a line)
    a common base word or a random-looking mix is enough; in a sentence the token needs a symbol
    inside it, or one of the unmistakable bases ("Welcome123", "Passw0rd1").
    """
    inner = token.rstrip("!?")
    if not 6 <= len(inner) <= 64 or inner.lower() == inner.upper():
        return False  # too short or long, or no letter
    has_digit = not _DIGITS.isdisjoint(inner)
    symbol_inside = not _BARE_SYMBOLS.isdisjoint(inner)
    if not (has_digit or symbol_inside):
        return False
    base = _unleet(inner)
    sure = has_digit and base.startswith(_SURE_STEMS)
    stem = base.startswith(_STEMS)
    if in_prose:
        mixed = symbol_inside and has_digit and len(inner) >= 8
        shaped = mixed or sure or (stem and (symbol_inside or inner != token))
    else:
        shaped = (symbol_inside and has_digit) or stem or _random_looking(inner)
    return shaped and not looks_like_identifier(inner)
