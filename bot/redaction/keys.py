"""Private key material pasted without its ``-----BEGIN ... PRIVATE KEY-----`` line.

People copy the body of a key file, or lose the first line of it. The body is base64 of a DER
structure whose first bytes say what it is: a private key starts with a SEQUENCE holding a small
version INTEGER (PKCS#1 RSA, PKCS#8, SEC 1 EC) or with an encryption algorithm of PKCS#5/#12
(an encrypted PKCS#8 key); certificates and public keys start otherwise and are left alone.
OpenSSH keys start with the base64 of ``openssh-key-v1``. A trailing ``-----END ... PRIVATE
KEY-----`` line names the base64 lines above it, and a PuTTY key file names its private lines.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from bot.redaction.kinds import Kind
from bot.redaction.patterns import Span

# A base64 block: one run of 16+ characters, then more lines of base64 or long runs after
# spaces (a block whose line breaks a chat turned into spaces). A next line counts if it is a
# long run, a whole line, or ends in padding, so "any idea?" after a key is not taken for it.
_B64 = r"[A-Za-z0-9+/]"
_NEXT_LINE = (
    rf"(?:{_B64}{{16,}}={{0,2}}|{_B64}{{4,}}={{0,2}}[ \t]*(?=\r?\n|\Z)|{_B64}{{2,}}={{1,2}})"
)
_BLOCK = rf"{_B64}{{16,}}={{0,2}}(?:[ \t]*\r?\n[ \t]*{_NEXT_LINE}|[ \t]+{_B64}{{40,}}={{0,2}})*"
_BODY_RE = re.compile(rf"(?:M[C-I]|b3BlbnNzaC1rZXktdjE){_BLOCK}")
_END_RE = re.compile(r"-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----")
# The base64 lines just above an END line: whole lines, all but the last of 16+ characters.
_LINES_ABOVE_RE = re.compile(
    rf"(?:^|\n)[ \t]*((?:{_B64}{{16,}}={{0,2}}[ \t]*\r?\n[ \t]*)*"
    rf"{_B64}{{4,}}={{0,2}}[ \t]*\r?\n[ \t]*)\Z"
)
_PUTTY_RE = re.compile(
    rf"Private-Lines:[ \t]*\d+[ \t]*\r?\n((?:[ \t]*{_B64}+={{0,2}}[ \t]*(?:\r?\n|\Z))+)"
)

_MIN_BODY = 60  # the shortest private key (Ed25519, PKCS#8) is 64 base64 characters
# PKCS#5 PBES2 and PKCS#12 PBE algorithm identifiers (OID prefixes) of encrypted PKCS#8 keys.
_ENCRYPTION_OIDS = (bytes.fromhex("2a864886f70d0105"), bytes.fromhex("2a864886f70d010c"))


def _der_private_key(head: bytes) -> bool:
    if len(head) < 8 or head[0] != 0x30:
        return False
    size = head[1]
    offset = 2 if size < 0x80 else 2 + (size & 0x7F)
    inner = head[offset:]
    if inner[:3] in (b"\x02\x01\x00", b"\x02\x01\x01"):
        return True
    # EncryptedPrivateKeyInfo: SEQUENCE { SEQUENCE { OID ... } ... }
    if inner[:1] != b"\x30":
        return False
    oid_at = inner.find(b"\x06")
    return 0 < oid_at < 4 and any(inner[oid_at + 2 :].startswith(o) for o in _ENCRYPTION_OIDS)


def _is_key_body(block: str) -> bool:
    if block.startswith("b3BlbnNzaC1rZXktdjE"):
        return True
    head = re.sub(r"\s+", "", block[:64])[:32]
    try:
        return _der_private_key(base64.b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError):
        return False


def detect_key_bodies(text: str, lowered: str) -> Iterator[Span]:
    if "-----END" in text:
        for m in _END_RE.finditer(text):
            above = _LINES_ABOVE_RE.search(text, 0, m.start())
            start = above.start(1) if above else m.start()
            yield start, m.end(), Kind.PRIVATE_KEY
    if "Private-Lines:" in text:
        for m in _PUTTY_RE.finditer(text):
            yield m.start(1), m.start(1) + len(m[1].rstrip()), Kind.PRIVATE_KEY
    for m in _BODY_RE.finditer(text):
        glued = m.start() > 0 and (text[m.start() - 1].isalnum() or text[m.start() - 1] in "+/=")
        if not glued and len(m.group()) >= _MIN_BODY and _is_key_body(m.group()):
            yield m.start(), m.end(), Kind.PRIVATE_KEY
