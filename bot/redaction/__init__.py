"""Redaction of secrets in chat messages and log records.

Employees regularly paste secrets into the chat by mistake ("my password is Summer2026! and it
still fails", a Slack bot token, an ``Authorization`` header, a card number). Every message is
redacted at ingress, before it is stored, logged, put in a ticket or shown to an agent, so a
secret never spreads beyond the one message that carried it. Log output is a second leak path,
so every log record is redacted too.

Detection is deliberately conservative about context: a password is only recognised after a cue
("password is", "pwd:", "Passwort ist", ...) and not when the next word is ordinary prose ("my
password is not working"). Vendor tokens are recognised by their shape, card numbers by
length, issuer prefix and the Luhn checksum.

The package follows those jobs: ``patterns`` (the regular expressions), ``values`` and
``checksums`` (is a candidate a secret?), the detectors (``detectors`` for keys and tokens and the
order that settles ties, ``passwords``, ``cards``), ``redactor`` (merge and replace) and ``logs``
(log records). ``kinds`` names each kind of secret and what to call it when telling the user.
"""

from bot.redaction.kinds import LABELS, Kind
from bot.redaction.logs import RedactingFilter, install_log_redaction
from bot.redaction.redactor import Finding, Redaction, redact, redact_obj, redact_text

__all__ = [
    "LABELS",
    "Finding",
    "Kind",
    "RedactingFilter",
    "Redaction",
    "install_log_redaction",
    "redact",
    "redact_obj",
    "redact_text",
]
