"""Redaction of secrets in chat messages and log records.

Employees regularly paste secrets into the chat by mistake ("my password is Summer2026! and it
still fails", a one-time code, a Slack bot token, an IBAN, a key file). Every message is redacted
at ingress, before it is stored, logged, put in a ticket or shown to an agent, so a secret never
spreads beyond the one message that carried it. Log output is a second leak path, so every log
record is redacted too.

Each detector trades recall for the harmless look-alikes of its kind: vendor credentials, key
bodies, IBANs, BitLocker keys and National Insurance numbers are recognised by shape and check
digits alone; numbers that look like any other number (one-time codes, SSNs, BSNs, passports)
need a cue in their clause, before or after them, and no harmless label next to them; passwords
need a cue before or after them, a user name next to them, a line of their own, or a shape that
prose never has ("Blue7Giraffe!Lamp").

Modules: ``patterns`` (regular expressions), ``values``, ``checksums`` and ``context`` (is a
candidate a secret?), the detectors (``detectors`` lists them and holds those for keys and
tokens; ``passwords``, ``trailing``, ``bare``, ``numbers``, ``identity``, ``keys``, ``cards``),
``redactor`` (merge and replace), ``logs`` (log records) and ``kinds`` (each kind of secret, its
rank when two detectors agree on a span, and what to call it when telling the user).
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
