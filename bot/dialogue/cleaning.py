"""Text as it enters deskbot, made safe to encode and store: a NUL byte (which PostgreSQL refuses
in text), other control characters and lone UTF-16 surrogates (which no encoder or database
takes) never go further than the edge."""

from __future__ import annotations

import re

# C0 controls and DEL, except tab, line feed and carriage return, which are text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
REPLACEMENT = "\ufffd"


def clean(text: str) -> str:
    """`text` without control characters; a lone surrogate becomes U+FFFD (a proper pair, as
    JSON may send an emoji, becomes the one character it encodes)."""
    if text.isascii():
        return _CONTROLS.sub("", text)
    paired = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROLS.sub("", paired)


def needs_cleaning(text: str) -> bool:
    return clean(text) != text
