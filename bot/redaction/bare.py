"""Passwords with no cue at all: after a user name, alone on a line, or shaped like one in prose.

"jsmith / Passw0rd123", "admin:Admin@12345" and "log in with jdoe and Changeme#2026" pair a user
name with a password; a line holding one token ("Summer2026!") is a password pasted into the
wrong window. In a sentence only tokens that cannot be anything else count: a symbol inside
letters and digits ("Blue7Giraffe!Lamp") or an unmistakable base ("Welcome123"). The checks on
the token itself are in ``values.bare_password``; versions, tickets, hashes, paths, amounts and
names built from words ("Office365", "Windows11") never pass them. A password in a message that
talks about Wi-Fi is reported as a Wi-Fi key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.redaction.kinds import Kind
from bot.redaction.patterns import Span
from bot.redaction.values import EMAIL_RE, STOP_WORDS, bare_password

_TRIM = "\"'`“”‘’()[]{}<>,.;:"
# "jsmith / pw", "admin:pw" (no space: "Note: X" is a label), "jsmith | pw".
_PAIR_SEPARATOR_RE = re.compile(r"[ \t]+/[ \t]+|:|[ \t]+\|[ \t]+")
_USER_RE = re.compile(
    r"(?:[A-Za-z0-9][\w.-]*\\)?[a-z0-9][a-z0-9._-]{1,39}|(?i:admin|administrator|root)"
)
# Words before a colon that are labels or schemes, not user names.
_NOT_USERS = frozenset(
    """http https ftp sftp ssh mailto tel sip urn file data ldap ldaps smb rdp note re fw fwd
    subject error warning info debug id ref ticket status time date step example eg ie etc
    scope role group repo org read write user username login name email phone mobile host
    server port path url link tip ps nb cc bcc to from sent""".split()
)
_LOGIN_RE = re.compile(
    r"""(?<![\w-])(?:log(?:ged|ging)?[ -]?(?:in|on)|sign(?:ed|ing)?[ -]?in|creds|credentials)
    (?:\s+(?:with|as|is|was|using))?[:\s]\s*
    (?P<user>[^\s,/:]{2,64}?)\s*(?:,|/|:|\s+and|\s+with|\s+pw|\s+pass)?\s+(?P<value>\S{6,80})""",
    re.VERBOSE | re.IGNORECASE,
)
# A symbol (or a run of them) between letters or digits; the symbol comes first so that the
# regex engine skips ahead fast.
_INNER_SYMBOL_RE = re.compile(r"[!@#$%&?](?<=[A-Za-z0-9].)(?=[!@#$%&?]*[A-Za-z0-9])")
_STEM_RE = re.compile(
    r"p[a@4][s$5][s$5]w[o0]rd|w[e3]lc[o0]m[e3]|ch[a@4]ng[e3]m[e3]|l[e3]tm[e3]in|qw[e3]rty"
    r"|summer|winter|spring|autumn"
)
_DIGITS = frozenset("0123456789")
_WIFI_CONTEXT_RE = re.compile(r"wi-?fi|wlan|wireless|ssid|\bwpa|guest network|hotspot")


def detect_bare_passwords(text: str, lowered: str) -> Iterator[Span]:
    yield from _pairs(text)
    yield from _logins(text, lowered)
    found = [*_lone_lines(text), *_in_prose(text, lowered)]
    if found:
        kind = Kind.WIFI_KEY if _WIFI_CONTEXT_RE.search(lowered) else Kind.PASSWORD
        for start, end in found:
            yield start, end, kind


def _token(text: str, start: int, end: int) -> tuple[int, int]:
    """The token's span without surrounding quotes, brackets, punctuation and emphasis."""
    while start < end and text[start] in _TRIM:
        start += 1
    while end > start and text[end - 1] in _TRIM:
        end -= 1
    while end - start > 2 and text[start] in "*_~" and text[end - 1] == text[start]:
        start, end = start + 1, end - 1  # *emphasis*, **bold**, ~~struck~~
    return start, end


def _is_user(name: str) -> bool:
    if name.lower() in _NOT_USERS or name.lower() in STOP_WORDS or name.isdigit():
        return False
    return bool(_USER_RE.fullmatch(name) or EMAIL_RE.match(name))


def _pairs(text: str) -> Iterator[Span]:
    if ":" not in text and " / " not in text and " | " not in text:
        return
    for sep in _PAIR_SEPARATOR_RE.finditer(text):
        user_start = max(text.rfind(" ", 0, sep.start()), text.rfind("\n", 0, sep.start())) + 1
        user_start, user_end = _token(text, user_start, sep.start())
        value_end = len(text)
        for stop in (" ", "\n", "\t"):
            found = text.find(stop, sep.end())
            if found != -1:
                value_end = min(value_end, found)
        start, end = _token(text, sep.end(), value_end)
        if start == sep.end() and _is_user(text[user_start:user_end]):
            value = text[start:end]
            if bare_password(value, in_prose=False):
                yield start, end, Kind.PASSWORD


def _logins(text: str, lowered: str) -> Iterator[Span]:
    if "log" not in lowered and "sign" not in lowered and "cred" not in lowered:
        return
    for m in _LOGIN_RE.finditer(text):
        start, end = _token(text, m.start("value"), m.end("value"))
        if _is_user(m["user"]) and bare_password(text[start:end], in_prose=False):
            yield start, end, Kind.PASSWORD


def _lone_lines(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    for line in text.split("\n") if "\n" in text else (text,):
        words = line.split(None, 1)
        if len(words) == 1 and 6 <= len(words[0]) <= 64:
            offset = pos + line.index(words[0])
            start, end = _token(text, offset, offset + len(words[0]))
            if bare_password(text[start:end], in_prose=False):
                yield start, end
        pos += len(line) + 1


def _in_prose(text: str, lowered: str) -> Iterator[tuple[int, int]]:
    seeds = [m.start() for m in _INNER_SYMBOL_RE.finditer(text)]
    # Without a symbol inside, a base word only counts with a digit ("Welcome123").
    if len(lowered) == len(text) and not _DIGITS.isdisjoint(text):
        seeds += [m.start() for m in _STEM_RE.finditer(lowered)]
    seen: set[int] = set()
    for seed in seeds:
        start = max(text.rfind(c, 0, seed) for c in " \n\t") + 1
        if start in seen:
            continue
        seen.add(start)
        ends = [e for e in (text.find(c, seed) for c in " \n\t") if e != -1]
        start, end = _token(text, start, min(ends, default=len(text)))
        if bare_password(text[start:end], in_prose=True):
            yield start, end
