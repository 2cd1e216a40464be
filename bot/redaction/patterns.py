"""The regular expressions behind the detectors, and how cue-led ones are scanned.

A pattern that starts with a cue ("password", "token", ...) is matched on the lower-cased text
without IGNORECASE: the regex engine can then skip ahead to candidate first characters, which is
several times faster on long messages. Vendor credentials are matched by their published shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# (start, end, kind) of one finding in the original text.
Span = tuple[int, int, str]
# A detector gets the text and its lower-cased form and yields spans.
Detector = Callable[[str, str], Iterator[Span]]


@dataclass(frozen=True, slots=True)
class Folded:
    """A pattern for lower-cased text, with an IGNORECASE twin for the rare texts whose
    lower-case form has a different length (then spans would not line up)."""

    lower: re.Pattern[str]
    ignorecase: re.Pattern[str]


def compile_folded(pattern: str) -> Folded:
    return Folded(re.compile(pattern, re.VERBOSE), re.compile(pattern, re.VERBOSE | re.I))


def has_any(haystack: str, needles: tuple[str, ...]) -> bool:
    return any(needle in haystack for needle in needles)


def scan(
    pattern: Folded,
    text: str,
    lowered: str,
    accept: Callable[[re.Match[str], str], Span | None],
) -> Iterator[Span]:
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


# --------------------------------------------------------------------------------------------
# Passwords after a cue
# --------------------------------------------------------------------------------------------

# Filler words between the connector and the value: "password is still X", "is now X".
_FILLERS = r"(?:still|now|currently|just|literally|actually|simply|jetzt|noch|maintenant|ahora)"

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

# The cue. It must not continue a word ("bypass"); scan() checks the start, which allows
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
PW_STRICT = compile_folded(
    _PW_CUE
    + r"""
(?:
    # qualifier: "for outlook", "for the vpn", "on the printer"
    \s+(?:for|on|of|at)\s+(?:(?:the|my|our|your|this|that|an?)\s+)?[^\s:=]{1,40}
    (?:\s+[^\s:=]{1,40})?
    (?P<far>[ \t]+[^\s:=]{1,40})?        # a third word: "for the printer admin page"
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
PW_LOOSE = compile_folded(_PW_CUE + r"(?P<conn>[ \t]+(?:to[ \t]+)?)(?P<to>)" + _PW_VALUE)

PIN = re.compile(r"\d{4,8}")

# --------------------------------------------------------------------------------------------
# Keys and tokens
# --------------------------------------------------------------------------------------------

_TOKEN_CHARS = r"[A-Za-z0-9_\-./+=~]"

# Generic credentials in key/value form: api_key=..., SLACK_BOT_TOKEN=..., "client_secret": "...",
# x-api-key: ..., "the api key is ...".
# The key may end an identifier (SLACK_BOT_TOKEN, x-api-key); scan() checks the start.
GENERIC_KEY = compile_folded(
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

BEARER = re.compile(r"(?<![A-Za-z0-9])bearer\s+(?P<value>[A-Za-z0-9\-._~+/]{8,}=*)", re.IGNORECASE)
AUTHORIZATION = re.compile(
    r"""
    (?<![A-Za-z0-9])(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?
    (?:(?P<scheme>basic|bearer|token|bot|digest|negotiate|ntlm|sharedkey)[ \t]+)?
    (?P<value>[A-Za-z0-9\-._~+/=:]{8,})
    """,
    re.VERBOSE | re.IGNORECASE,
)

SLACK_TOKEN = re.compile(
    r"(?<![A-Za-z0-9-])(?:xox[abeoprs](?:\.xox[abeoprs])?|xapp)-[A-Za-z0-9-]{10,}"
)
SLACK_WEBHOOK = re.compile(
    r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{8,}"
)
GITHUB_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{30,255})"
)
GITLAB_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}")
NPM_TOKEN = re.compile(r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])")
AWS_ACCESS_KEY = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")
# A 40-character secret access key, up to 40 characters after an AWS-ish cue.
AWS_SECRET = compile_folded(
    r"""
    (?P<cue>aws_?secret_?access_?key | secret_?access_?key
      | aws[ _-]?secret(?:[ _-]?(?:access[ _-]?)?key)? | secret[ _-]?key | secret)
    [^\n]{0,40}?
    (?<![A-Za-z0-9/+])(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])
    """
)
GOOGLE_KEY = re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")
JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
# "sk-..." secret keys used by several API vendors, and "sk_live_..." / "rk_test_..." keys.
SK_KEY = re.compile(r"(?<![A-Za-z0-9_-])(?:sk-|[sr]k_(?:live|test)_)[A-Za-z0-9_-]{20,}")
AZURE_KEY = re.compile(
    r"(?<![A-Za-z0-9])(?:AccountKey|SharedAccessKey|SharedAccessSignature)[ \t]*=[ \t]*"
    r"(?P<value>[A-Za-z0-9+/]{20,}={0,2})",
    re.IGNORECASE,
)
SAS_SIG = re.compile(r"[?&]sig=(?P<value>[A-Za-z0-9%+/]{20,}(?:=|%3D){0,2})")
# curl -u user:password / --user=user:password; only the password is redacted.
CURL_USER = re.compile(
    r"""(?<!\S)(?:-u|--user)(?:[ \t]+|=)
    (?: ([\"'])[^\s:\"']+:(?!\[redacted\ )(?P<quoted>[^\"'\n]+)\1
      | [^\s:\"']+:(?!\[redacted\ )(?P<bare>[^\s\"']+) )""",
    re.VERBOSE,
)
# scheme://user:password@host; only the password is redacted.
URL_CREDENTIALS = re.compile(
    r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@?#\[\]]*:"
    r"(?P<value>[^\s/@?#\[\]]+)@"
)
# A PEM private key block; a truncated paste without the END line is redacted to the end.
PRIVATE_KEY = re.compile(
    r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
    re.DOTALL,
)

# --------------------------------------------------------------------------------------------
# Vendor credentials added with the second factor and identity checks
# --------------------------------------------------------------------------------------------

SENDGRID_KEY = re.compile(r"(?<![\w.-])SG\.[\w-]{22}\.[\w-]{43}(?![\w-])")
# Azure DevOps personal access tokens: 52 base32 characters, or (since 2024) 84 characters with
# the "AZDO" signature at position 76.
AZURE_DEVOPS_PAT = re.compile(
    r"(?<![A-Za-z0-9])(?:[a-z2-7]{52}|[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4})(?![A-Za-z0-9])"
)
# Entra ID (Azure AD) client secrets: three characters, a digit, "Q~" and 31-34 more.
AZURE_CLIENT_SECRET = re.compile(r"(?<![\w~.-])[\w~.]{3}\dQ~[\w~.-]{31,34}(?![\w~.-])")

# A Wi-Fi key after its cue: "WPA2 key for CORP-GUEST is X", "network security key: X",
# "wpa_passphrase=X", netsh's "Key Content : X".
WIFI_KEY = compile_folded(
    r"""
(?P<cue>
    wpa[23]?(?:[- ]?psk)?(?:[ -](?:key|passphrase|password))? | psk | pre-?shared[ -]key
  | wi-?fi[ -]key | wlan[ -]key | wireless[ -]key | network(?:[ -]security)?[ -]key
  | wpa_passphrase | key[ -]content
)
(?![A-Za-z0-9_])
(?:\s+(?:for|on|of)\s+(?:(?:the|my|our)\s+)?[^\s:=]{1,40})?
(?P<conn>[ \t]*(?::=|[:=])[ \t]*|\s+(?:is|was)(?:[ \t]*:[ \t]*|\s+))
"""
    + _PW_VALUE
)
# The password field of a Wi-Fi QR code: WIFI:T:WPA;S:name;P:secret;;
WIFI_QR = re.compile(r"WIFI:(?:[^;\s]*;)*?P:(?P<value>(?:\\.|[^;\\\s])+)", re.IGNORECASE)
