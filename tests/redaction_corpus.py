"""The redaction corpus: realistic chat messages that carry secrets, and harmless look-alikes.

Rows of ``tests/data/redaction_corpus.jsonl``::

    {"text": str, "secrets": [str, ...], "kinds": [str, ...], "category": str, "cue": str}

``secrets`` are the values that must be gone after redaction, ``kinds`` the kinds that must be
reported, ``category`` what the row is about (a secret category, or for look-alikes, with empty
``secrets``, what they look like) and ``cue`` where the word naming the secret stands: ``before``
the value, ``after`` it, or ``none``.

Vendor credentials whose formats secret scanners look for, and private key bodies, are written as
``{{name:n}}`` and built here at load time, so the repository never holds a literal that looks
like a live credential. The same name and number always give the same value.
"""

from __future__ import annotations

import base64
import json
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PATH = Path(__file__).parent / "data" / "redaction_corpus.jsonl"

_ALNUM = string.ascii_letters + string.digits
_BASE32 = string.ascii_lowercase + "234567"


def _chars(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _pem_body(rng: random.Random, der_head: bytes, size: int) -> str:
    """Base64 lines of a DER private key: its real header, then random bytes."""
    der = der_head + rng.randbytes(size - len(der_head))
    b64 = base64.b64encode(der).decode()
    return "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))


# DER headers: PKCS#1 RSA (SEQUENCE, version 0, modulus), PKCS#8 (SEQUENCE, version 0,
# rsaEncryption), SEC 1 EC (SEQUENCE, version 1, OCTET STRING), and the OpenSSH magic.
_PKCS1 = bytes.fromhex("308204a30201000282010100")
_PKCS8 = bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7")
_EC = bytes.fromhex("307702010104")
_OPENSSH = b"openssh-key-v1\x00\x00\x00\x00\x04none"

_BUILDERS: dict[str, Callable[[random.Random], str]] = {
    "sendgrid": lambda r: "SG." + _chars(r, _ALNUM + "_-", 22) + "." + _chars(r, _ALNUM + "_-", 43),
    "ado_pat": lambda r: _chars(r, _BASE32, 52),
    "ado_pat84": lambda r: _chars(r, _ALNUM, 52) + "JQQJ99" + _chars(r, _ALNUM, 18) + "AZDO"
    + _chars(r, _ALNUM, 4),
    "azure_secret": lambda r: _chars(r, _ALNUM, 3) + r.choice(string.digits) + "Q~"
    + _chars(r, _ALNUM + "_~.-", 34),
    "rsa_body": lambda r: _pem_body(r, _PKCS1, 1191),
    "pkcs8_body": lambda r: _pem_body(r, _PKCS8, 1217),
    "ec_body": lambda r: _pem_body(r, _EC, 121),
    "openssh_body": lambda r: _pem_body(r, _OPENSSH, 400),
}
_MARK_RE = re.compile(r"\{\{(\w+):(\d+)\}\}")


def expand(text: str) -> str:
    """Replace every ``{{name:n}}`` with its built value."""
    return _MARK_RE.sub(lambda m: _BUILDERS[m[1]](random.Random(f"{m[1]}:{m[2]}")), text)


@dataclass(frozen=True)
class Row:
    text: str
    secrets: tuple[str, ...]
    kinds: frozenset[str]
    category: str
    cue: str

    @property
    def is_secret(self) -> bool:
        return bool(self.secrets)

    def leaks(self, redacted: str) -> list[str]:
        """The secret lines still readable in ``redacted`` (each line of a multi-line secret)."""
        lines = (line.strip() for s in self.secrets for line in s.splitlines())
        return [line for line in lines if line and line in redacted]


def load(path: Path = PATH) -> list[Row]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                rows.append(
                    Row(
                        expand(raw["text"]),
                        tuple(expand(s) for s in raw["secrets"]),
                        frozenset(raw["kinds"]),
                        raw["category"],
                        raw["cue"],
                    )
                )
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{number}: bad corpus row: {exc!r}") from exc
    return rows
