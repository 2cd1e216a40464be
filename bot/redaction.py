"""Redaction of secrets in chat messages and log records.

Employees regularly paste secrets into the chat by mistake ("my password is Summer2026! and it
still fails", a Slack bot token, an ``Authorization`` header, a card number). Every message is
redacted at ingress, before it is stored, logged, put in a ticket or shown to an agent, so a
secret never spreads beyond the one message that carried it. Log output is a second leak path:
third-party libraries log raw payloads (``slack_bolt`` logs the whole request body at INFO when
a signature check fails), so :func:`install_log_redaction` redacts every log record of every
logger before any handler formats it.

Detection is deliberately conservative about context: a password is only recognised after a cue
("password is", "pwd:", "Passwort ist", ...) and not when the next word is ordinary prose ("my
password is not working"). Vendor tokens are recognised by their shape, card numbers by
length, issuer prefix and the Luhn checksum.

Each secret is replaced by ``[redacted <kind>]``. Replacement markers never match any pattern,
so redacting twice is a no-op.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = [
    "Finding",
    "RedactingFilter",
    "Redaction",
    "install_log_redaction",
    "redact",
    "redact_obj",
    "redact_text",
]


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


# --------------------------------------------------------------------------------------------
# Value checks shared by the context-based detectors
# --------------------------------------------------------------------------------------------

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
_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

# Filler words between the connector and the value: "password is still X", "is now X".
_FILLERS = r"(?:still|now|currently|just|literally|actually|simply|jetzt|noch|maintenant|ahora)"

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
_URL_OR_PATH_RE = re.compile(r"(?i)^(?:[a-z][a-z0-9+.-]*://|www\.|/|~/|[a-z]:\\)")
_EMAIL_RE = re.compile(r"^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$")
# "password is 8 characters long": a number followed by a unit is a rule, not a password.
_UNIT_AFTER_RE = re.compile(
    r"\s+(?:characters?|chars?|digits?|letters?|symbols?|days?|weeks?|months?|years?|hours?"
    r"|minutes?|mins?|times?|attempts?|tries|long|or\s+more|or\s+longer)\b",
    re.IGNORECASE,
)
_EDGE_PUNCT = "()[]{}<>\"'`“”‘’.,!?;:"
_QUOTES = "\"'`“”‘’"
_STRONG_SYMBOLS = frozenset("!@#$%^&*+=?~|\\")


def _core(value: str) -> str:
    """The value without surrounding quotes and punctuation, for plausibility checks only."""
    return value.strip(_EDGE_PUNCT)


def _is_prose_or_placeholder(core: str) -> bool:
    if not any(ch.isalnum() for ch in core):
        return True  # "********", "-", "?"
    words = core.lower().split()
    if all(w.strip(_EDGE_PUNCT) in _STOP_WORDS for w in words):
        return True  # "not", "case sensitive"
    if _PROSE_WORD_RE.fullmatch(core):
        return True  # "hashed", "expiring", "apparently"
    if _PLACEHOLDER_RE.fullmatch(core):
        return True
    return bool(_URL_OR_PATH_RE.match(core) or _EMAIL_RE.match(core))


def _passwordish(core: str) -> bool:
    """Whether a value looks like a password even without an explicit "is"/":" connector."""
    if len(core) < 6:
        return False
    return any(ch.isdigit() for ch in core) or any(ch in _STRONG_SYMBOLS for ch in core)


def _tokenish(value: str, *, strict: bool = False) -> bool:
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
# Patterns
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Folded:
    """A pattern for lower-cased text, with an IGNORECASE twin for the rare texts whose
    lower-case form has a different length (then spans would not line up)."""

    lower: re.Pattern[str]
    ignorecase: re.Pattern[str]


def _compile_folded(pattern: str) -> _Folded:
    # Matching lower-cased text without IGNORECASE lets the regex engine skip ahead to
    # candidate first characters, which is several times faster on long messages.
    return _Folded(re.compile(pattern, re.VERBOSE), re.compile(pattern, re.VERBOSE | re.I))


# A password value: a quoted string (quotes included in the span) or the next non-space token.
# The bare token stops at a quote that closes a JSON string ("text":"password: x"}), and at a
# ";" or "&" that starts the next key=value pair (connection strings, query strings).
# Values that are already replacement markers are skipped, which keeps redaction idempotent.
_PW_VALUE = r"""
(?P<value>
    (?!\[redacted\ )
    (?:
        [\"'`“‘] (?!\[redacted\ ) [^\"'`“”‘’\n]{1,100} [\"'`”’]
      | (?: [^\s\"\\;&] | \\\S | \"(?![,}\]\s]|$) | [;&](?![\w.-]+=) )+
    )
)
"""

# The cue. It must not continue a word ("bypass"); _scan checks the start, which allows
# identifier prefixes such as DB_PASSWORD or smtp_pass.
_PW_CUE = r"""
(?P<cue>
    passwords? | pass(?:wort|wd|code|phrase)
  | kennwort | wachtwoord | senha
  | mot\s+de\s+passe
  | contrase(?:ña|na|\\u00f1a)
  | pwd | pw
  | pin(?:[ -]?(?:code|number))?
  | pass
)
(?![A-Za-z0-9_])
"""

# "password is X", "password: X", "password for the VPN is X", "the password I set is X",
# '"password": "X"', "password was changed to X".
_PW_STRICT_RE = _compile_folded(
    _PW_CUE
    + r"""
(?:
    # qualifier: "for outlook", "for the vpn", "on the printer"
    \s+(?:for|on|of|at)\s+(?:(?:the|my|our|your|this|that|an?)\s+)?[^\s:=]{1,40}
    (?:\s+[^\s:=]{1,40})?
    # relative clause: "I set", "you gave me"
  | \s+(?:(?:that|which)\s+)?(?:i|i've|you|we|they|he|she|someone|somebody|it)
    (?:\s+[a-z']+){1,3}?
)?
[\"']?                                   # closing quote of a JSON / YAML key
(?P<conn>
    [ \t]*(?::=|=>|->|→|[:=])[ \t]*\n?[ \t]*
  | \s+(?:is|was|are|ist|war|est|était|es|era|é|has\s+been|got)(?:[ \t]*:[ \t]*|\s+)
  | ['’]s\s+                                    # "password's X"
  | \s+(?=(?:set|changed|reset|updated)\s+to\s)  # "password reset to X"
)
(?:"""
    + _FILLERS
    + r"""\s+)*
(?P<to>(?:set|changed|reset|updated)\s+to\s+)?
"""
    + _PW_VALUE
)

# "pwd X", "the password 'X' doesn't work", "changed my password to X": no explicit connector,
# so the value must be quoted or look like a password.
_PW_LOOSE_RE = _compile_folded(_PW_CUE + r"(?P<conn>[ \t]+(?:to[ \t]+)?)(?P<to>)" + _PW_VALUE)

_PIN_RE = re.compile(r"\d{4,8}")

_TOKEN_CHARS = r"[A-Za-z0-9_\-./+=~]"

# Generic credentials in key/value form: api_key=..., SLACK_BOT_TOKEN=..., "client_secret": "...",
# x-api-key: ..., "the api key is ...".
# The key may end an identifier (SLACK_BOT_TOKEN, x-api-key); _scan checks the start.
_GENERIC_KEY_RE = _compile_folded(
    r"""
    (?:api[_\ -]?(?:key|token|secret) | apikey | access[_-]?token | refresh[_-]?token
      | id[_-]?token | auth[_-]?token | session[_-]?token | bot[_-]?token | app[_-]?token
      | client[_\ -]?secret | app[_-]?secret | signing[_-]?secret | secret[_-]?key
      | subscription[_-]?key | private[_-]?token | secret | token)
    (?![A-Za-z0-9])
    [\"']?
    (?P<conn>[ \t]*(?::=|=>|[:=])[ \t]*|\s+is(?:[ \t]*:)?[ \t]+)
    [\"']?
    (?P<value>"""
    + _TOKEN_CHARS
    + r"""{8,})
    """
)

_BEARER_RE = re.compile(
    r"(?<![A-Za-z0-9])bearer\s+(?P<value>[A-Za-z0-9\-._~+/]{8,}=*)", re.IGNORECASE
)
_AUTHORIZATION_RE = re.compile(
    r"""
    (?<![A-Za-z0-9])(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?
    (?:(?P<scheme>basic|bearer|token|bot|digest|negotiate|ntlm|sharedkey)[ \t]+)?
    (?P<value>[A-Za-z0-9\-._~+/=:]{8,})
    """,
    re.VERBOSE | re.IGNORECASE,
)

_SLACK_TOKEN_RE = re.compile(
    r"(?<![A-Za-z0-9-])(?:xox[abeoprs](?:\.xox[abeoprs])?|xapp)-[A-Za-z0-9-]{10,}"
)
_SLACK_WEBHOOK_RE = re.compile(
    r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{8,}"
)
_GITHUB_TOKEN_RE = re.compile(
    r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{30,255})"
)
_GITLAB_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}")
_NPM_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])")
_AWS_ACCESS_KEY_RE = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")
# A 40-character secret access key, up to 40 characters after an AWS-ish cue.
_AWS_SECRET_RE = _compile_folded(
    r"""
    (?P<cue>aws_?secret_?access_?key | secret_?access_?key
      | aws[ _-]?secret(?:[ _-]?(?:access[ _-]?)?key)? | secret[ _-]?key | secret)
    [^\n]{0,40}?
    (?<![A-Za-z0-9/+])(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])
    """
)
_GOOGLE_KEY_RE = re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")
_JWT_RE = re.compile(
    r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
)
# "sk-..." secret keys used by several API vendors, and "sk_live_..." / "rk_test_..." keys.
_SK_KEY_RE = re.compile(r"(?<![A-Za-z0-9_-])(?:sk-|[sr]k_(?:live|test)_)[A-Za-z0-9_-]{20,}")
_AZURE_KEY_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:AccountKey|SharedAccessKey|SharedAccessSignature)[ \t]*=[ \t]*"
    r"(?P<value>[A-Za-z0-9+/]{20,}={0,2})",
    re.IGNORECASE,
)
_SAS_SIG_RE = re.compile(r"[?&]sig=(?P<value>[A-Za-z0-9%+/]{20,}(?:=|%3D){0,2})")
# curl -u user:password / --user=user:password; only the password is redacted.
_CURL_USER_RE = re.compile(
    r"""(?<!\S)(?:-u|--user)(?:[ \t]+|=)
    (?: ([\"'])[^\s:\"']+:(?!\[redacted\ )(?P<quoted>[^\"'\n]+)\1
      | [^\s:\"']+:(?!\[redacted\ )(?P<bare>[^\s\"']+) )""",
    re.VERBOSE,
)
# scheme://user:password@host; only the password is redacted.
_URL_CREDENTIALS_RE = re.compile(
    r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@?#\[\]]*:"
    r"(?P<value>[^\s/@?#\[\]]+)@"
)
# A PEM private key block; a truncated paste without the END line is redacted to the end.
_PRIVATE_KEY_RE = re.compile(
    r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
    re.DOTALL,
)
# A run of 13+ digits separated by at most single spaces or dashes, starting a digit run.
# (The look-behinds follow the first \d so that the scan fails fast on non-digits.)
_DIGIT_RUN_RE = re.compile(r"\d(?<!\d\d)(?<!\d[ -]\d)(?:[ -]?\d){12,}")
_DIGIT_GROUP_RE = re.compile(r"\d+")


# --------------------------------------------------------------------------------------------
# Detectors
# --------------------------------------------------------------------------------------------

_Span = tuple[int, int, str]
_Detector = Callable[[str, str], Iterator[_Span]]


def _has_any(haystack: str, needles: tuple[str, ...]) -> bool:
    return any(needle in haystack for needle in needles)


def _simple(
    kind: str, pattern: re.Pattern[str], gate: tuple[str, ...], *, lower: bool = False
) -> _Detector:
    """A detector that reports whole matches of ``pattern`` (gated by cheap substring tests)."""

    def detect(text: str, lowered: str) -> Iterator[_Span]:
        haystack = lowered if lower else text
        if not _has_any(haystack, gate):
            return
        for m in pattern.finditer(text):
            yield m.start(), m.end(), kind

    return detect


def _scan(
    pattern: _Folded,
    text: str,
    lowered: str,
    accept: Callable[[re.Match[str], str], _Span | None],
) -> Iterator[_Span]:
    """Matches of a cue-led pattern whose cue starts a word, filtered by ``accept``.

    ``accept`` gets the match (on lower-cased text when possible; spans are the same) and the
    original text. After a rejected match the scan resumes one character after its start, so a
    rejected candidate never hides a real one inside it.
    """
    if len(lowered) == len(text):
        regex, haystack = pattern.lower, lowered
    else:
        regex, haystack = pattern.ignorecase, text
    pos = 0
    while (m := regex.search(haystack, pos)) is not None:
        start = m.start()
        span = None
        if start == 0 or not haystack[start - 1].isalnum():
            span = accept(m, text)
        if span is None:
            pos = start + 1
        else:
            yield span
            pos = m.end()


def _detect_passwords(text: str, lowered: str) -> Iterator[_Span]:
    if not any(
        g in lowered for g in ("pass", "pw", "pin", "kennwort", "wachtwoord", "senha", "contrase")
    ):
        return
    yield from _scan(_PW_STRICT_RE, text, lowered, _accept_strict_password)
    yield from _scan(_PW_LOOSE_RE, text, lowered, _accept_loose_password)


def _accept_strict_password(m: re.Match[str], text: str) -> _Span | None:
    return _password_span(m, text, loose=False)


def _accept_loose_password(m: re.Match[str], text: str) -> _Span | None:
    return _password_span(m, text, loose=True)


def _password_span(m: re.Match[str], text: str, *, loose: bool) -> _Span | None:
    cue = m.group("cue").lower()
    start, end = m.span("value")
    value = text[start:end]
    core = _core(value)
    if len(core) < 3 or _is_prose_or_placeholder(core):
        return None
    if core.isdigit() and _UNIT_AFTER_RE.match(text, end):
        return None
    if cue.startswith("pin"):
        return (start, end, "pin") if _PIN_RE.fullmatch(core) else None
    quoted = value[0] in _QUOTES and value[-1] in _QUOTES and len(value) > 1
    needs_shape = loose or bool(m.group("to")) or cue == "pass"
    if needs_shape and not quoted and not _passwordish(core):
        return None
    return start, end, "password"


def _detect_generic_keys(text: str, lowered: str) -> Iterator[_Span]:
    if "key" not in lowered and "token" not in lowered and "secret" not in lowered:
        return
    yield from _scan(_GENERIC_KEY_RE, text, lowered, _accept_generic_key)


def _accept_generic_key(m: re.Match[str], text: str) -> _Span | None:
    start, end = m.span("value")
    value = text[start:end]
    strict = "is" in m.group("conn").lower()
    if _tokenish(value, strict=strict) and not _is_prose_or_placeholder(_core(value)):
        return start, end, "api_key"
    return None


def _detect_authorization(text: str, lowered: str) -> Iterator[_Span]:
    if "bearer" in lowered:
        for m in _BEARER_RE.finditer(text):
            if _tokenish(m.group("value"), strict=True):
                yield m.start("value"), m.end("value"), "bearer_token"
    if "authorization" in lowered:
        for m in _AUTHORIZATION_RE.finditer(text):
            scheme = (m.group("scheme") or "").lower()
            if scheme == "basic":
                yield m.start("value"), m.end("value"), "basic_auth"
            elif _tokenish(m.group("value")):
                yield m.start("value"), m.end("value"), "bearer_token"


def _detect_aws_secret(text: str, lowered: str) -> Iterator[_Span]:
    if "secret" not in lowered:
        return
    aws_context = "aws" in lowered or _AWS_ACCESS_KEY_RE.search(text) is not None

    def accept(m: re.Match[str], text: str) -> _Span | None:
        cue = m.group("cue").lower()
        if "aws" not in cue and "access" not in cue and not aws_context:
            return None  # a bare "secret" cue only counts next to other AWS context
        start, end = m.span("value")
        value = text[start:end]
        if any(c.isupper() for c in value) and any(c.islower() for c in value):
            return start, end, "aws_secret_key"
        return None

    yield from _scan(_AWS_SECRET_RE, text, lowered, accept)


def _detect_value_group(
    kind: str, pattern: re.Pattern[str], gate: tuple[str, ...], *, lower: bool = False
) -> _Detector:
    def detect(text: str, lowered: str) -> Iterator[_Span]:
        haystack = lowered if lower else text
        if not _has_any(haystack, gate):
            return
        for m in pattern.finditer(text):
            yield m.start("value"), m.end("value"), kind

    return detect


def _detect_curl_user(text: str, lowered: str) -> Iterator[_Span]:
    if "curl" not in lowered:
        return  # "-u user:group" means something else to docker, sudo, ...
    for m in _CURL_USER_RE.finditer(text):
        group = "quoted" if m.group("quoted") is not None else "bare"
        yield m.start(group), m.end(group), "password"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _plausible_card(digits: str) -> bool:
    """Issuer prefix and length of the major card networks (cuts IMEI/ICCID false positives)."""
    n = len(digits)
    if digits[0] == "4":  # Visa
        return n in (13, 16, 19)
    two = int(digits[:2])
    four = int(digits[:4])
    if two in (34, 37):  # American Express
        return n == 15
    if 51 <= two <= 55 or 2221 <= four <= 2720:  # Mastercard
        return n == 16
    if two in (30, 36, 38, 39):  # Diners Club
        return 14 <= n <= 19
    if two == 35:  # JCB
        return 16 <= n <= 19
    if digits[0] == "6" or two in (50, 56, 57, 58):  # Discover, UnionPay, Maestro, RuPay
        return 13 <= n <= 19
    return False


def _valid_grouping(groups: list[str]) -> bool:
    """Card layouts: one block, or 4 digits followed by blocks of 4-6 (the last may be 1-6)."""
    if len(groups) == 1:
        return True
    if len(groups[0]) != 4:
        return False
    middle_ok = all(4 <= len(g) <= 6 for g in groups[1:-1])
    return middle_ok and 1 <= len(groups[-1]) <= 6


def _detect_cards(text: str, lowered: str) -> Iterator[_Span]:
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
                if _plausible_card(digits) and _luhn_ok(digits):
                    yield (
                        start + offsets[i],
                        start + offsets[j] + len(groups[j]),
                        "card_number",
                    )
                    i = j
                    break
            i += 1


# Order matters only for ties (same start and end): the more specific kind wins.
_DETECTORS: tuple[_Detector, ...] = (
    _simple("private_key", _PRIVATE_KEY_RE, ("-----BEGIN",)),
    _simple("slack_webhook", _SLACK_WEBHOOK_RE, ("hooks.slack.com",)),
    _simple("slack_token", _SLACK_TOKEN_RE, ("xox", "xapp-")),
    _simple(
        "github_token", _GITHUB_TOKEN_RE, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")
    ),
    _simple("gitlab_token", _GITLAB_TOKEN_RE, ("glpat-",)),
    _simple("npm_token", _NPM_TOKEN_RE, ("npm_",)),
    _simple("aws_access_key", _AWS_ACCESS_KEY_RE, ("AKIA", "ASIA")),
    _detect_aws_secret,
    _simple("google_api_key", _GOOGLE_KEY_RE, ("AIza",)),
    _simple("jwt", _JWT_RE, ("eyJ",)),
    _simple("api_key", _SK_KEY_RE, ("sk-", "sk_", "rk_")),
    _detect_value_group("azure_key", _AZURE_KEY_RE, ("accountkey", "sharedaccess"), lower=True),
    _detect_value_group("sas_token", _SAS_SIG_RE, ("sig=",)),
    _detect_value_group("url_credentials", _URL_CREDENTIALS_RE, ("://",)),
    _detect_curl_user,
    _detect_authorization,
    _detect_generic_keys,
    _detect_passwords,
    _detect_cards,
)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def redact(text: str) -> Redaction:
    """Find secrets in ``text`` and replace each with ``[redacted <kind>]``.

    Overlapping findings are merged into one; the earliest (then longest, then most specific)
    finding names the merged span.
    """
    lowered = text.lower()
    spans: list[tuple[int, int, int, str]] = []
    for priority, detector in enumerate(_DETECTORS):
        for start, end, kind in detector(text, lowered):
            if end > start:
                spans.append((start, -end, priority, kind))
    if not spans:
        return Redaction(text, ())
    spans.sort()
    findings: list[Finding] = []
    cur_start, cur_end, cur_kind = spans[0][0], -spans[0][1], spans[0][3]
    for start, neg_end, _, kind in spans[1:]:
        if start < cur_end:
            cur_end = max(cur_end, -neg_end)
            continue
        findings.append(Finding(cur_kind, cur_start, cur_end))
        cur_start, cur_end, cur_kind = start, -neg_end, kind
    findings.append(Finding(cur_kind, cur_start, cur_end))
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts.append(text[pos : f.start])
        parts.append(f"[redacted {f.kind}]")
        pos = f.end
    parts.append(text[pos:])
    return Redaction("".join(parts), tuple(findings))


def redact_text(text: str) -> str:
    """Shorthand for ``redact(text).text``."""
    return redact(text).text


# Keys whose string values are credentials whatever they look like (JSON payloads, form fields).
# Not "pwd": in environment dumps PWD is the working directory.
_SENSITIVE_KEYS: dict[str, str] = {
    "password": "password",
    "passwd": "password",
    "passcode": "password",
    "secret": "api_key",
    "client_secret": "api_key",
    "signing_secret": "api_key",
    "api_key": "api_key",
    "apikey": "api_key",
    "token": "api_key",
    "access_token": "api_key",
    "refresh_token": "api_key",
    "id_token": "api_key",
    "bot_token": "api_key",
    "authorization": "bearer_token",
    "private_key": "private_key",
}
_MARKER_RE = re.compile(r"\[redacted [a-z_]+\]")


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


# --------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------

_PERCENT_RUN_RE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _form_decode(text: str) -> str:
    def decode(m: re.Match[str]) -> str:
        return bytes.fromhex(m.group().replace("%", "")).decode("utf-8", "replace")

    return _PERCENT_RUN_RE.sub(decode, text.replace("+", " "))


def _redact_log_text(text: str) -> str:
    """Redact log text, also looking inside URL-encoded form bodies.

    Slack slash commands and interactive payloads arrive form-encoded ("text=my+password+is+..."),
    and slack_bolt logs such bodies verbatim. If decoding reveals secrets, the decoded and
    redacted text is logged instead of the original.
    """
    first = redact_text(text)
    if "%" not in first and "+" not in first:
        return first
    decoded = _form_decode(first)
    if decoded == first:
        return first
    second = redact(decoded)
    return second.text if second.found else first


_MARK = "_deskbot_redacted_msg"
_WITHHELD = "[log message withheld: redaction failed]"
_EXC_FORMATTER = logging.Formatter()
_STANDARD_ATTRS = frozenset(
    [*logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__, "message", "asctime"]
)


def _redact_record(record: logging.LogRecord, *, extras: bool) -> None:
    try:
        if not (getattr(record, _MARK, None) is record.msg and record.args is None):
            try:
                message = record.getMessage()
            except Exception:
                # Mismatched format args: an arg without its context cannot be checked, so the
                # args are dropped rather than logged next to the template.
                message = f"{record.msg!s} [log arguments withheld: message formatting failed]"
            message = _redact_log_text(message)
            record.msg = message
            record.args = None
            setattr(record, _MARK, message)
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = _EXC_FORMATTER.formatException(record.exc_info)
            # Formatters that render exc_info themselves would bypass the redacted exc_text.
            record.exc_info = None
        if record.exc_text:
            record.exc_text = _redact_log_text(record.exc_text)
        if record.stack_info:
            record.stack_info = _redact_log_text(record.stack_info)
        if extras:
            for key, item in list(record.__dict__.items()):
                if key in _STANDARD_ATTRS or key == _MARK:
                    continue
                if isinstance(item, str):
                    record.__dict__[key] = _redact_log_text(item)
                elif isinstance(item, dict | list | tuple):
                    record.__dict__[key] = redact_obj(item)
    except Exception:  # fail closed: never let an unredacted record through
        record.msg = _WITHHELD
        record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        setattr(record, _MARK, _WITHHELD)


class RedactingFilter(logging.Filter):
    """Redacts a record's message, exception text, stack info and ``extra`` fields.

    The formatted message replaces ``record.msg`` and ``record.args`` becomes None. The exception
    is formatted into ``record.exc_text`` (redacted) and ``record.exc_info`` is cleared.
    Attach it to handlers; filters on a logger do not see records propagated from its children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record, extras=True)
        return True


class _RedactingRecordFactory:
    """Wraps the previous log record factory; every record of every logger passes through."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: object, **kwargs: object) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        # ``extra`` fields are set by Logger.makeRecord after the factory returns; they are only
        # redacted by RedactingFilter.
        _redact_record(record, extras=False)
        return record


_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """Redact every log record of every logger before any handler sees it. Idempotent.

    Root, child and third-party loggers, records propagated from children and handlers added
    later are all covered because the record factory is shared by all loggers.
    """
    with _install_lock:
        current = logging.getLogRecordFactory()
        if isinstance(current, _RedactingRecordFactory):
            return
        logging.setLogRecordFactory(_RedactingRecordFactory(current))
