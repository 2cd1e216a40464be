"""What deskbot posts in Teams, as Bot Framework activity JSON: employees' replies as Adaptive
Cards, a person's words as a plain message, and the hand-off card agents claim and resolve.
No SDK here, so the cards stay as they are whichever SDK sends them."""

from __future__ import annotations

from typing import Any

from bot.channels.teams import wording as teams_wording
from bot.dialogue.messages import Button, Reply
from handoff.tickets import Status, Ticket

CARD = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.5"
# Teams shows "AI generated" on messages carrying this entity.
AI_LABEL: dict[str, Any] = {
    "type": "https://schema.org/Message",
    "@type": "Message",
    "@context": "https://schema.org",
    "additionalType": ["AIGeneratedContent"],
}
CLAIMABLE = (Status.NEW, Status.WAITING)

JSON = dict[str, Any]


def reply_activity(reply: Reply) -> JSON:
    """An automated reply is a card with Teams' AI-generated label; a person's words are a
    plain message with their name, and never carry the label."""
    if not reply.automated:
        who = (
            teams_wording.PERSON_LABEL.format(agent=reply.author)
            if reply.author
            else teams_wording.PERSON_UNNAMED
        )
        return message(f"{who}\n\n{reply.text}")
    body = _lines(reply.text)
    if reply.source is not None:
        body.append(_text(teams_wording.source_line(reply.source), subtle=True))
    activity = card_message(_card(body, [_submit(b) for b in reply.buttons]), summary=reply.text)
    activity["entities"] = [dict(AI_LABEL)]
    return activity


def message(text: str) -> JSON:
    return {"type": "message", "textFormat": "markdown", "text": text}


def card_message(card: JSON, summary: str = "") -> JSON:
    activity: JSON = {"type": "message", "attachments": [{"contentType": CARD, "content": card}]}
    if summary:
        activity["summary"] = summary.split("\n", 1)[0][:120]
    return activity


def desk_card(ticket: Ticket) -> JSON:
    """The root of a hand-off thread: what the agent needs first, and Claim / Resolve while
    they apply. Action.Execute, so the card the agent pressed updates in the HTTP response."""
    agent = ticket.claimed_by or ticket.resolved_by or ""
    status = teams_wording.DESK_STATUS.get(ticket.status.value, ticket.status.value)
    requester = ticket.requester
    if ticket.requester_name:
        requester = f"{ticket.requester_name} ({ticket.requester})"
    fields = {
        "status": status.format(agent=agent),
        "reason": teams_wording.DESK_REASONS.get(ticket.reason, ticket.reason),
        "priority": ticket.priority,
        "category": ticket.category,
        "requester": requester,
    }
    body: list[JSON] = [
        _text(
            teams_wording.DESK_TITLE.format(number=ticket.number, title=ticket.title),
            weight="Bolder",
            size="Medium",
        ),
        _facts((teams_wording.DESK_FIELDS[k], v) for k, v in fields.items()),
        *_lines(ticket.summary),
    ]
    facts = [
        (teams_wording.DESK_FACTS.get(kind, kind), ", ".join(values))
        for kind, values in ticket.facts.items()
        if values
    ]
    if facts:
        body.append(_facts(facts))
    actions: list[JSON] = []
    if ticket.status in CLAIMABLE:
        actions.append(_execute(teams_wording.CLAIM, "claim", ticket.id))
    if ticket.open:
        body.append(
            {
                "type": "Input.Text",
                "id": "resolution",
                "placeholder": teams_wording.RESOLUTION_PLACEHOLDER,
                "isMultiline": True,
            }
        )
        actions.append(_execute(teams_wording.RESOLVE, "resolve", ticket.id))
        body.append(_text(teams_wording.DESK_HINT, subtle=True))
    return _card(body, actions)


def card_response(card: JSON) -> JSON:
    """The invoke response to Action.Execute: the card that replaces the pressed one."""
    return {"statusCode": 200, "type": CARD, "value": card}


def _card(body: list[JSON], actions: list[JSON]) -> JSON:
    card: JSON = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def _lines(text: str) -> list[JSON]:
    """One TextBlock per line: hosts differ in how they break lines inside a block. A blank
    line starts a new paragraph."""
    blocks: list[JSON] = []
    gap = False
    for line in text.split("\n"):
        if not line.strip():
            gap = True
            continue
        block = _text(line)
        if blocks:
            block["spacing"] = "Medium" if gap else "None"
        blocks.append(block)
        gap = False
    return blocks


def _text(text: str, *, subtle: bool = False, **style: str) -> JSON:
    block: JSON = {"type": "TextBlock", "text": text, "wrap": True, **style}
    if subtle:
        block.update(isSubtle=True, size="Small")
    return block


def _facts(facts: Any) -> JSON:
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in facts]}


def _submit(button: Button) -> JSON:
    action: JSON = {
        "type": "Action.Submit",
        "title": button.label,
        "data": {"deskbot": button.action},
    }
    if button.primary:
        action["style"] = "positive"
    return action


def _execute(title: str, verb: str, ticket_id: int) -> JSON:
    return {"type": "Action.Execute", "title": title, "verb": verb, "data": {"ticket": ticket_id}}
