"""Block Kit rendering: replies for employees, request posts for agents. Pure functions.

All of one turn's replies go into one Slack message (the disclosure and the answer arrive
together), which keeps within Slack's one-message-per-second pace per channel.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bot.channels.slack import wording as slack_wording
from bot.dialogue import wording
from bot.dialogue.messages import Button, Reply, Source
from handoff.tickets import Ticket

Block = dict[str, Any]
Message = dict[str, Any]  # {"text": fallback, "blocks": [...]}, as chat.postMessage takes it

REPLY_ACTION = "deskbot.reply"  # action ids of employees' buttons: "deskbot.reply.<block>.<n>"
CLAIM_ACTION = "deskbot.claim"
RESOLVE_ACTION = "deskbot.resolve"
RESOLVE_VIEW = "deskbot.resolve_note"  # callback id of the resolution-note modal
NOTE_BLOCK = "deskbot.note"
NOTE_INPUT = "deskbot.note_text"
ACTIONS_BLOCK = "deskbot.actions"
DESK_BLOCK = "deskbot.ticket"

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks)
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
BUTTON_LIMIT = 75
FALLBACK_LIMIT = 3000
BLOCKS_LIMIT = 50
NOTE_LIMIT = 4000  # Slack truncates longer messages
MODAL_TITLE_LIMIT = 24
RESOLUTION_LIMIT = 2000  # what the employee reads in chat: a note, not an essay


def escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    label = escape(label).replace("|", "/")
    return f"<{url}|{label}>" if url.startswith(("https://", "http://")) else label


def _chunks(text: str, limit: int) -> Iterator[str]:
    """Escaped pieces of at most `limit` characters, never splitting an escape."""
    piece: list[str] = []
    size = 0
    for char in text:
        escaped = escape(char)
        if size + len(escaped) > limit:
            yield "".join(piece)
            piece, size = [], 0
        piece.append(escaped)
        size += len(escaped)
    if piece:
        yield "".join(piece)


def sections(text: str) -> list[Block]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
        for chunk in _chunks(text.strip() or " ", SECTION_LIMIT)
    ]


def context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn[:SECTION_LIMIT]}]}


def source_line(source: Source) -> str:
    return slack_wording.SOURCE_LINE.format(
        label=wording.AUTOMATED_LABEL,
        title=link(source.link, source.title),
        day=wording.when(source.verified_on),
    )


def _button(label: str, action_id: str, value: str, primary: bool = False) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label[:BUTTON_LIMIT]},
        "action_id": action_id,
        "value": value,
    }
    if primary:
        button["style"] = "primary"
    return button


def _kept_buttons(replies: Sequence[Reply]) -> list[tuple[Button, ...]]:
    """Each reply's buttons, minus those a later reply in the same message offers again
    (the disclosure and the answer both offer "Talk to a person")."""
    kept = []
    for i, reply in enumerate(replies):
        later = {b.action for r in replies[i + 1 :] for b in r.buttons}
        kept.append(tuple(b for b in reply.buttons if b.action not in later))
    return kept


def reply_blocks(reply: Reply, buttons: Sequence[Button], index: int) -> list[Block]:
    blocks: list[Block] = []
    if not reply.automated:
        name = escape(reply.author) if reply.author else slack_wording.PERSON_UNNAMED
        blocks.append(context(slack_wording.PERSON_LABEL.format(name=name)))
    blocks.extend(sections(reply.text))
    if reply.source is not None:
        blocks.append(context(source_line(reply.source)))
    if buttons:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"{ACTIONS_BLOCK}.{index}",
                "elements": [
                    _button(b.label, f"{REPLY_ACTION}.{index}.{n}", b.action, b.primary)
                    for n, b in enumerate(buttons)
                ],
            }
        )
    return blocks


def reply_message(replies: Sequence[Reply], preface: str | None = None) -> Message:
    """One turn's replies as one message. `preface` (already mrkdwn) goes on top."""
    blocks: list[Block] = [context(preface)] if preface else []
    for index, (reply, buttons) in enumerate(zip(replies, _kept_buttons(replies), strict=True)):
        blocks.extend(reply_blocks(reply, buttons, index))
    fallback = "\n\n".join(wording.plain_text(r) for r in replies)
    return {"text": fallback[:FALLBACK_LIMIT], "blocks": blocks[:BLOCKS_LIMIT]}


def pressed(blocks: Sequence[Mapping[str, Any]], block_id: str, label: str) -> list[Block]:
    """The message after a button in it was pressed: that row of buttons becomes a note of
    the choice, so a second press cannot send the same answer twice."""
    note = context(slack_wording.PRESSED.format(label=escape(label)))
    return [note if b.get("block_id") == block_id else dict(b) for b in blocks]


def button_label(blocks: Sequence[Mapping[str, Any]], block_id: str, action_id: str) -> str | None:
    for block in blocks:
        if block.get("block_id") != block_id:
            continue
        for element in block.get("elements") or ():
            if isinstance(element, Mapping) and element.get("action_id") == action_id:
                text = element.get("text") or {}
                return str(text.get("text", "")) or None
    return None


# -- the agent desk ---------------------------------------------------------------------------


def _humane(code: str) -> str:
    return code.replace("_", " ")


def _requester(ticket: Ticket) -> str:
    who = escape(ticket.requester)
    if "@" in ticket.requester:
        who = f"<mailto:{ticket.requester}|{who}>"
    return f"{escape(ticket.requester_name)} ({who})" if ticket.requester_name else who


def _facts(facts: Mapping[str, Sequence[str]]) -> str:
    lines = [f"• {_humane(key)}: {', '.join(values)}" for key, values in facts.items() if values]
    return "\n".join(lines)


def _field(label: str, value: str) -> Block:
    return {"type": "mrkdwn", "text": f"*{label}*\n{value}"}


def ticket_status(ticket: Ticket) -> str:
    agent = ticket.resolved_by if ticket.status.value == "resolved" else ticket.claimed_by
    return slack_wording.DESK_STATUS[ticket.status.value].format(agent=agent or "someone")


def ticket_message(ticket: Ticket) -> Message:
    """A request as agents see it in the agent channel; rendered again on every change."""
    labels = slack_wording.DESK_FIELDS
    title = f"{ticket.number} · {ticket.title}"
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_LIMIT]}},
        *sections(ticket.summary),
        {
            "type": "section",
            "fields": [
                _field(labels["reason"], escape(_humane(ticket.reason))),
                _field(labels["priority"], escape(ticket.priority)),
                _field(labels["category"], escape(_humane(ticket.category))),
                _field(labels["requester"], _requester(ticket)),
            ],
        },
    ]
    facts = _facts(ticket.facts)
    if facts:
        blocks.extend(sections(f"*{slack_wording.DESK_FACTS}*\n{facts}"))
    blocks.append(context(escape(ticket_status(ticket))))
    buttons = []
    if ticket.status.value in ("new", "waiting"):
        buttons.append(_button(slack_wording.CLAIM, CLAIM_ACTION, str(ticket.id), True))
    if ticket.open:
        buttons.append(_button(slack_wording.RESOLVE, RESOLVE_ACTION, str(ticket.id)))
    if buttons:
        blocks.append({"type": "actions", "block_id": DESK_BLOCK, "elements": buttons})
    fallback = f"{title}: {ticket_status(ticket)}"
    return {"text": fallback[:FALLBACK_LIMIT], "blocks": blocks[:BLOCKS_LIMIT]}


def thread_note(mrkdwn: str) -> Message:
    """A line in a request's thread (the employee's words, what happened)."""
    return {"text": mrkdwn[:NOTE_LIMIT]}


def resolve_modal(ticket: Ticket, channel: str, ts: str) -> dict[str, Any]:
    """The dialog a Resolve press opens: an optional note the employee reads with the news
    that the request is resolved. private_metadata names the request's post, which the
    submission is checked against (a modal outlives any state it was opened with)."""
    title = slack_wording.RESOLVE_TITLE.format(number=ticket.number)
    return {
        "type": "modal",
        "callback_id": RESOLVE_VIEW,
        "private_metadata": json.dumps({"ticket": ticket.id, "channel": channel, "ts": ts}),
        "title": {"type": "plain_text", "text": title[:MODAL_TITLE_LIMIT]},
        "submit": {"type": "plain_text", "text": slack_wording.RESOLVE},
        "close": {"type": "plain_text", "text": slack_wording.RESOLVE_CANCEL},
        "blocks": [
            *sections(f"{ticket.number} · {ticket.title}"),
            {
                "type": "input",
                "block_id": NOTE_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": slack_wording.RESOLVE_LABEL},
                "hint": {"type": "plain_text", "text": slack_wording.RESOLVE_HINT},
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE_INPUT,
                    "multiline": True,
                    "max_length": RESOLUTION_LIMIT,
                },
            },
        ],
    }
