"""Slack payloads in, neutral values out: conversation keys, plain text, payload shape checks.
Pure functions, so the edge cases are easy to test and nothing here touches the network."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Message subtypes that carry a person's words; the rest are edits, joins, bot posts...
USER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})

_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


@dataclass(frozen=True)
class Place:
    """Where a conversation lives in Slack, and how to answer there later."""

    key: str  # the conversation key: a DM channel, or "channel:thread_ts" for a thread
    channel: str
    thread_ts: str | None = None
    reference: Mapping[str, Any] = field(default_factory=dict)


def dm(channel: str) -> Place:
    return Place(channel, channel, None, {"channel": channel})


def thread(channel: str, thread_ts: str) -> Place:
    return Place(
        f"{channel}:{thread_ts}", channel, thread_ts, {"channel": channel, "thread_ts": thread_ts}
    )


def is_dm(channel: str) -> bool:
    """Direct-message channel ids start with D (App Home messages tab included)."""
    return channel.startswith("D")


def _unlink(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "#")):
        return f"{target[0]}{label}" if label else target
    if target.startswith("!"):
        return "@" + (label or target[1:].split("^")[0])
    if target.startswith("mailto:"):
        return target.removeprefix("mailto:")
    return target


def plain(text: str, bot_user: str | None = None) -> str:
    """A Slack message as the plain text the core reads: the bot's own mention removed, links
    and mentions as their text, and Slack's escapes undone."""
    if bot_user:
        text = text.replace(f"<@{bot_user}>", " ")
    text = _LINK.sub(_unlink, text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def mentions(text: str, bot_user: str | None) -> bool:
    return bool(bot_user) and f"<@{bot_user}>" in text


def _str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def well_formed(body: Any) -> bool:
    """Whether a verified payload has the shape its type promises. Anything else gets a 400
    before it reaches Bolt, whose parsers assume well-formed input."""
    if not isinstance(body, Mapping):
        return False
    kind = body.get("type")
    if kind == "url_verification":
        return _str(body.get("challenge"))
    if kind == "event_callback":
        event = body.get("event")
        return _str(body.get("event_id")) and isinstance(event, Mapping) and _str(event.get("type"))
    if kind == "block_actions":
        user, actions = body.get("user"), body.get("actions")
        return (
            isinstance(user, Mapping)
            and _str(user.get("id"))
            and isinstance(actions, list)
            and bool(actions)
            and all(isinstance(a, Mapping) and _str(a.get("action_id")) for a in actions)
        )
    if "command" in body:
        return _str(body.get("command")) and _str(body.get("user_id"))
    return kind is None or isinstance(kind, str)


@dataclass(frozen=True)
class Click:
    """A pressed button, from a block_actions payload."""

    user: str
    channel: str
    message_ts: str
    thread_ts: str | None
    block_id: str
    action_id: str
    value: str
    blocks: tuple[Mapping[str, Any], ...]
    trigger_id: str = ""  # lets us open a dialog for the presser, for 3 seconds


def click(body: Mapping[str, Any]) -> Click | None:
    container = body.get("container") or {}
    message = body.get("message") or {}
    action = (body.get("actions") or [{}])[0]
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    message_ts = container.get("message_ts") or message.get("ts")
    if not (_str(channel) and _str(message_ts) and _str(action.get("value"))):
        return None
    blocks = message.get("blocks")
    return Click(
        user=str((body.get("user") or {}).get("id", "")),
        channel=str(channel),
        message_ts=str(message_ts),
        thread_ts=container.get("thread_ts") or message.get("thread_ts"),
        block_id=str(action.get("block_id") or ""),
        action_id=str(action.get("action_id") or ""),
        value=str(action["value"]),
        blocks=tuple(b for b in blocks if isinstance(b, Mapping))
        if isinstance(blocks, list)
        else (),
        trigger_id=str(body.get("trigger_id") or ""),
    )


@dataclass(frozen=True)
class NoteSubmission:
    """A submitted resolution-note dialog: who, which request's post, and the note."""

    user: str
    ticket_id: int
    channel: str
    ts: str
    note: str


def note_submission(
    body: Mapping[str, Any], block_id: str, action_id: str
) -> NoteSubmission | None:
    view = body.get("view") or {}
    user = (body.get("user") or {}).get("id")
    try:
        meta = json.loads(view.get("private_metadata") or "")
        ticket_id, channel, ts = int(meta["ticket"]), meta["channel"], meta["ts"]
    except (ValueError, TypeError, KeyError):
        return None
    if not (_str(user) and _str(channel) and _str(ts)):
        return None
    values = ((view.get("state") or {}).get("values") or {}).get(block_id) or {}
    note = (values.get(action_id) or {}).get("value")
    return NoteSubmission(str(user), ticket_id, channel, ts, note if isinstance(note, str) else "")
