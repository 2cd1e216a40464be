"""Reading incoming Bot Framework activities (the JSON Teams posts to /api/messages).

Pure functions over the JSON as received, so that they hold whichever SDK parses the request.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from bot.inbound import MAX_ID, MAX_TEXT

Activity = Mapping[str, Any]

_REQUIRED = ("from", "conversation", "recipient")
_ACTION = re.compile(r"[a-z_]{1,32}(:[\w.\-]{1,128})?")
_AT = re.compile(r"<at>(.*?)</at>", re.S)
_TAG = re.compile(r"<[^>]{1,200}>")
_SPACE = re.compile(r"\s+")
_CHANNEL_ID = re.compile(r"19:[^/?#\s]+@thread\.[a-z0-9]+", re.I)
SETUP_COMMAND = "set agent channel"
MAX_ACTIVITY_TEXT = 40_000  # Teams' own messages stay under about 28 KB


def malformed(body: Any) -> str | None:
    """Why this is no activity we can handle, or None. Checked before anything else runs."""
    if not isinstance(body, dict):
        return "not a JSON object"
    if not isinstance(body.get("type"), str) or not body["type"]:
        return "no type"
    url = body.get("serviceUrl")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        return "no serviceUrl"
    if len(url) > MAX_ID:
        return f"serviceUrl is longer than {MAX_ID} characters"
    for key in _REQUIRED:
        part = body.get(key)
        if not isinstance(part, dict) or not isinstance(part.get("id"), str) or not part["id"]:
            return f"no {key}.id"
        if len(part["id"]) > MAX_ID:
            return f"{key}.id is longer than {MAX_ID} characters"
    aad = body["from"].get("aadObjectId")
    if aad is not None and (not isinstance(aad, str) or len(aad) > MAX_ID):
        return f"from.aadObjectId must be a string of at most {MAX_ID} characters"
    if isinstance(body.get("id"), str) and len(body["id"]) > MAX_ID:
        return f"id is longer than {MAX_ID} characters"
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        return "text must be a string"
    if isinstance(text, str) and len(text) > MAX_ACTIVITY_TEXT:
        return f"text is longer than {MAX_ACTIVITY_TEXT} characters"
    return None


def not_supported(body: Activity) -> dict[str, Any]:
    """The answer to an invoke deskbot does not handle (HTTP 200, as Teams expects): for a
    card's Action.Execute the Universal Actions error response, which Teams shows on the card;
    for any other invoke an empty body."""
    if body.get("name") != "adaptiveCard/action":
        return {}
    return {
        "statusCode": 400,
        "type": "application/vnd.microsoft.error",
        "value": {"code": "NotSupported", "message": "deskbot does not handle this action."},
    }


def channel_setting(value: str | None) -> str | None:
    """DESKBOT_TEAMS_AGENT_CHANNEL as a channel id ("19:...@thread.tacv2"), also when an admin
    pasted the channel's link ("Get link to channel") or its URL-encoded id."""
    if not value or not value.strip():
        return None
    found = _CHANNEL_ID.search(unquote(value.strip()))
    return found.group(0) if found else value.strip()


def conversation_id(activity: Activity) -> str:
    return str(activity["conversation"]["id"])


def delivery_id(activity: Activity) -> str | None:
    """A durable de-duplication key. Teams message ids are only unique within a conversation
    (they are timestamps), so the conversation is part of the key."""
    if not isinstance(activity.get("id"), str) or not activity["id"]:
        return None
    key = f"{conversation_id(activity)}|{activity['id']}"
    return hashlib.sha256(key.encode()).hexdigest()


def reference_of(activity: Activity) -> dict[str, Any]:
    """How to reach this conversation later (a Bot Framework ConversationReference). Without
    the activity id: later messages start anew in the conversation, they answer nothing."""
    return {
        "bot": dict(activity["recipient"]),
        "user": dict(activity["from"]),
        "conversation": dict(activity["conversation"]),
        "channelId": activity.get("channelId"),
        "serviceUrl": activity["serviceUrl"],
        "locale": activity.get("locale"),
    }


def _channel_data(activity: Activity) -> Mapping[str, Any]:
    data = activity.get("channelData")
    return data if isinstance(data, Mapping) else {}


def _part_id(data: Mapping[str, Any], key: str) -> str | None:
    part = data.get(key)
    value = part.get("id") if isinstance(part, Mapping) else None
    return value if isinstance(value, str) and value else None


def tenant_of(activity: Activity) -> str | None:
    tenant = _part_id(_channel_data(activity), "tenant")
    return tenant or activity["conversation"].get("tenantId")


def is_personal(activity: Activity) -> bool:
    return bool(activity["conversation"].get("conversationType", "personal") == "personal")


def channel_of(activity: Activity) -> str | None:
    """The Teams channel a channel activity happened in (a thread's id starts with it)."""
    if is_personal(activity):
        return None
    data = _channel_data(activity)
    return _part_id(data, "channel") or conversation_id(activity).split(";", 1)[0]


def mentions_bot(activity: Activity) -> bool:
    bot = activity["recipient"]["id"]
    return any(_mentioned(entity) == bot for entity in _entities(activity))


def _entities(activity: Activity) -> list[Mapping[str, Any]]:
    entities = activity.get("entities")
    if not isinstance(entities, list):
        return []
    return [e for e in entities if isinstance(e, Mapping) and e.get("type") == "mention"]


def _mentioned(entity: Mapping[str, Any]) -> str | None:
    who = entity.get("mentioned")
    return who.get("id") if isinstance(who, Mapping) else None


def text_of(activity: Activity) -> str:
    """The words typed, without the @mention of the bot and without Teams' markup."""
    text = activity.get("text")
    if not isinstance(text, str):
        return ""
    bot = activity["recipient"]["id"]
    for entity in _entities(activity):
        tag = entity.get("text")
        if _mentioned(entity) == bot and isinstance(tag, str) and tag:
            text = text.replace(tag, " ")
    text = _AT.sub(r"\1", text)
    text = html.unescape(_TAG.sub(" ", text))
    return _SPACE.sub(" ", text).strip()[:MAX_TEXT]  # the core reads at most this much


def submitted(activity: Activity) -> Mapping[str, Any]:
    """The data of a pressed card button: Action.Submit arrives as a message with `value`,
    Action.Execute as an `adaptiveCard/action` invoke with the data under value.action."""
    value = activity.get("value")
    if not isinstance(value, Mapping):
        return {}
    if activity.get("type") == "invoke":
        action = value.get("action")
        if not isinstance(action, Mapping):
            return {}
        data = action.get("data")
        verb = action.get("verb")
        return {**(data if isinstance(data, Mapping) else {}), "verb": verb}
    return value


def employee_action(activity: Activity) -> str | None:
    """A button the employee pressed on one of our cards ("helpful", "choose:<article>", ...)."""
    action = submitted(activity).get("deskbot")
    return action if isinstance(action, str) and _ACTION.fullmatch(action) else None


def is_setup_command(text: str) -> bool:
    words = re.sub(r"[^a-z ]", "", text.lower().replace("agents", "agent"))
    return _SPACE.sub(" ", words).strip() == SETUP_COMMAND


def bot_added(activity: Activity) -> bool:
    """A conversationUpdate saying the app was just installed here."""
    added = activity.get("membersAdded")
    if activity.get("type") != "conversationUpdate" or not isinstance(added, list):
        return False
    bot = activity["recipient"]["id"]
    return any(isinstance(m, Mapping) and m.get("id") == bot for m in added)


def sender_name(activity: Activity) -> str:
    name = activity["from"].get("name")
    return name if isinstance(name, str) and name.strip() else str(activity["from"]["id"])
