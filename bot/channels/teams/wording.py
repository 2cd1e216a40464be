"""What only the Teams channel shows: employees see the first group, service-desk agents the
rest, in the agents' channel. The assistant's own words are in bot.dialogue.wording."""

from __future__ import annotations

from bot.dialogue import wording
from bot.dialogue.messages import Source

ASK_HERE = "Ask me here in this chat, or mention me in a channel and I'll answer in the thread."
WELCOME = f"{wording.DISCLOSURE}\n\n{ASK_HERE}"
STILL_WORKING = "Still looking into that — I'll post the answer here in a moment."
PERSON_LABEL = "**{agent}** · IT service desk · a person, not the automated assistant"
PERSON_UNNAMED = "Someone from the IT service desk"


def source_line(source: Source) -> str:
    """The provenance line of an answer card, with the article as a Markdown link."""
    title = f"[{source.title}]({source.link})" if source.link else f'"{source.title}"'
    return (
        f"{wording.AUTOMATED_LABEL} from {title} · last verified {wording.when(source.verified_on)}"
    )


DESK_TITLE = "{number} · {title}"
DESK_HINT = 'Reply in this thread to write to the employee. Start with "note:" for an internal note they never see.'
DESK_FIELDS = {
    "status": "Status",
    "reason": "Reason",
    "priority": "Priority",
    "category": "Category",
    "requester": "Requester",
}
DESK_STATUS = {
    "new": "New, waiting for a person",
    "claimed": "Claimed by {agent}",
    "waiting": "Back with the assistant, still open",
    "resolved": "Resolved by {agent}",
}
DESK_REASONS = {
    "user_request": "Asked for a person",
    "low_confidence": "No validated answer",
    "risky_intent": "Needs a person (risky request)",
    "negative_feedback": "The answer didn't help",
    "repeated_failure": "Several questions without an answer",
    "error": "Error on deskbot's side",
}
DESK_FACTS = {
    "error_codes": "Error codes",
    "applications": "Applications",
    "devices": "Devices",
    "times": "When",
    "ticket_numbers": "Requests mentioned",
}
CLAIM = "Claim"
RESOLVE = "Resolve"
RESOLUTION_PLACEHOLDER = "Resolution note for the employee (optional)"
DESK_USER_SAYS = "**{name}:** {text}"
DESK_AGENT_ELSEWHERE = "**{agent}** (in {origin}): {text}"
DESK_ALREADY_CLAIMED = "{agent} already has this request."
DESK_NOT_YOURS = "{agent} has this request, so your message was kept as an internal note and not sent to the employee."
DESK_CLOSED = "This request is closed, so your message was not sent to the employee."
DESK_BOUND = "deskbot will post hand-offs in this channel. Claim a request to talk to the employee in its thread."
DESK_REFUSED = "Hand-offs go to another channel. Run this command in that channel to move them, or ask an admin to change DESKBOT_TEAMS_AGENT_CHANNEL."
