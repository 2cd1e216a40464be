"""Slack payloads in, neutral values out: conversation keys, plain text, payload shape checks.
Pure functions, so the edge cases are easy to test and nothing here touches the network."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.inbound import MAX_INT

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


MAX_EVENT_TEXT = 40_000  # Slack's own limit for a message's text
MAX_VALUE = 2000  # Slack's limit for a button's value
MAX_SLACK_ID = 64  # Slack's ids (users, channels, timestamps, events) are far shorter


def _id(value: Any, name: str, required: bool = True) -> str | None:
    """Why `value` is no id (missing, not a string, too long), or None."""
    if value is None and not required:
        return None
    if not _str(value):
        return f"{name} must be a string"
    return f"{name} is longer than {MAX_SLACK_ID} characters" if len(value) > MAX_SLACK_ID else None


def _event_problem(event: Mapping[str, Any]) -> str | None:
    kind = event.get("type")
    if kind not in ("message", "app_mention"):
        return None
    text = event.get("text")
    if text is not None and not isinstance(text, str):
        return "event.text must be a string"
    if isinstance(text, str) and len(text) > MAX_EVENT_TEXT:
        return f"event.text is longer than {MAX_EVENT_TEXT} characters"
    for key in ("user", "channel", "ts", "thread_ts"):
        if event.get(key) is not None and (problem := _id(event[key], f"event.{key}")):
            return problem
    return None


def malformed(body: Any) -> str | None:
    """Why a verified payload does not have the shape its type promises, or None. Anything
    malformed gets a 400 naming the reason before it reaches Bolt, whose parsers assume
    well-formed input."""
    if not isinstance(body, Mapping):
        return "not a JSON object or form"
    kind = body.get("type")
    if kind == "url_verification":
        return None if _str(body.get("challenge")) else "no challenge"
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, Mapping) or not _str(event.get("type")):
            return "no event"
        return _id(body.get("event_id"), "event_id") or _event_problem(event)
    if kind == "block_actions":
        user, actions = body.get("user"), body.get("actions")
        if not isinstance(user, Mapping) or (problem := _id(user.get("id"), "user.id")):
            return "no user.id" if not isinstance(user, Mapping) else problem
        if not isinstance(actions, list) or not actions or len(actions) > 25:
            return "actions must be a list of 1 to 25 actions"
        for action in actions:
            if not isinstance(action, Mapping):
                return "each action must be an object"
            if problem := _id(action.get("action_id"), "action_id"):
                return problem
            value = action.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > MAX_VALUE):
                return f"an action's value must be a string of at most {MAX_VALUE} characters"
        return None
    if kind in ("view_submission", "view_closed"):
        user, view = body.get("user"), body.get("view")
        if not isinstance(user, Mapping) or (problem := _id(user.get("id"), "user.id")):
            return "no user.id" if not isinstance(user, Mapping) else problem
        if not isinstance(view, Mapping):
            return "view must be an object"
        for key in ("type", "callback_id"):  # Bolt routes views by these
            if not isinstance(view.get(key), str):
                return f"view.{key} must be a string"
        if not isinstance(view.get("private_metadata", ""), str):
            return "view.private_metadata must be a string"
        state = view.get("state", {})
        if not isinstance(state, Mapping) or not isinstance(state.get("values", {}), Mapping):
            return "view.state.values must be an object"
        return None
    if "command" in body:
        text = body.get("text", "")
        if not isinstance(text, str) or len(text) > MAX_EVENT_TEXT:
            return f"text must be a string of at most {MAX_EVENT_TEXT} characters"
        return _id(body.get("command"), "command") or _id(body.get("user_id"), "user_id")
    return None if kind is None or isinstance(kind, str) else "type must be a string"


def well_formed(body: Any) -> bool:
    return malformed(body) is None


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


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _opt_str(value: Any) -> str | None:
    return value if _str(value) else None


def click(body: Mapping[str, Any]) -> Click | None:
    container, message = _map(body.get("container")), _map(body.get("message"))
    actions = body.get("actions")
    action = _map(actions[0]) if isinstance(actions, list) and actions else {}
    channel = container.get("channel_id") or _map(body.get("channel")).get("id")
    message_ts = container.get("message_ts") or message.get("ts")
    if not (_str(channel) and _str(message_ts) and _str(action.get("value"))):
        return None
    blocks = message.get("blocks")
    return Click(
        user=str(_map(body.get("user")).get("id", "")),
        channel=str(channel),
        message_ts=str(message_ts),
        thread_ts=_opt_str(container.get("thread_ts")) or _opt_str(message.get("thread_ts")),
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
    view = _map(body.get("view"))
    user = _map(body.get("user")).get("id")
    try:
        meta = json.loads(view.get("private_metadata") or "")
        ticket_id, channel, ts = int(meta["ticket"]), meta["channel"], meta["ts"]
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    if not (_str(user) and _str(channel) and _str(ts) and 0 < ticket_id <= MAX_INT):
        return None
    values = _map(_map(_map(view.get("state")).get("values")).get(block_id))
    note = _map(values.get(action_id)).get("value")
    return NoteSubmission(str(user), ticket_id, channel, ts, note if isinstance(note, str) else "")
