"""Log records are redacted like chat messages, before any handler formats them.

Third-party libraries log raw payloads (``slack_bolt`` logs the whole request body at INFO when a
signature check fails), so :func:`install_log_redaction` wraps the log record factory: every record
of every logger passes through it. :class:`RedactingFilter` also covers ``extra`` fields, which
are set after the factory returns. A record that cannot be redacted is withheld, never let through.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable

from bot.redaction.redactor import redact, redact_obj, redact_text

_PERCENT_RUN_RE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _form_decode(text: str) -> str:
    def decode(m: re.Match[str]) -> str:
        return bytes.fromhex(m.group().replace("%", "")).decode("utf-8", "replace")

    return _PERCENT_RUN_RE.sub(decode, text.replace("+", " "))


# A JSON string, and a form field value (key=value up to the next & or space).
_JSON_STRING_RE = re.compile(r'"((?:[^"\\\n]|\\.)+)"')
_FORM_VALUE_RE = re.compile(r"(?:(?<=^)|(?<=[&?\s]))[\w.\[\]-]{1,100}=([^&\s]+)")


def _redact_json_string(m: re.Match[str]) -> str:
    try:
        value = json.loads(m[0])  # undo the escapes: "notes:\\n3f0a9-7de21" holds a line break
    except ValueError:
        value = m[1]
    found = redact(value)
    return json.dumps(found.text, ensure_ascii=False) if found.found else m[0]


def _redact_values(text: str) -> str:
    """Redact each JSON string and form value on its own, as the message it carries.

    A logged payload wraps the user's message in its own syntax, and some secrets are only
    recognised in a message of their own (a one-time code sent alone).
    """
    if '"' in text:
        text = _JSON_STRING_RE.sub(_redact_json_string, text)
    if "=" in text:

        def value(m: re.Match[str]) -> str:
            found = redact(_form_decode(m[1]))
            return m[0] if not found.found else m[0][: m.start(1) - m.start()] + found.text

        text = _FORM_VALUE_RE.sub(value, text)
    return text


def _redact_log_text(text: str) -> str:
    """Redact log text, also looking inside JSON strings and URL-encoded form bodies.

    Slack slash commands and interactive payloads arrive form-encoded ("text=my+password+is+..."),
    and slack_bolt logs such bodies verbatim. If decoding reveals secrets, the decoded and
    redacted text is logged instead of the original.
    """
    first = redact_text(_redact_values(text))
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
