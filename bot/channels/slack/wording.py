"""What only the Slack channel shows: employees' labels and lines, and the agents' desk in the
agent channel. The assistant's own words are in bot.dialogue.wording."""

from __future__ import annotations

SOURCE_LINE = "{label} · {title} · last verified {day}"
PERSON_LABEL = "*{name}* · IT service desk · a person, not the automated assistant"
PERSON_UNNAMED = "Someone from the IT service desk"
PRESSED = "You chose: {label}"
COMMAND_ACK = "Got it. I'll answer in our direct messages."
COMMAND_USAGE = (
    "Ask me an IT question after the command, for example: "
    "/helpdesk how do I connect to the VPN from home"
)
YOU_ASKED = "You asked with /helpdesk: {question}"

# The agent desk: one post per request in the agent channel, the conversation in its thread.
CLAIM = "Claim"
RESOLVE = "Resolve"
DESK_FIELDS = {
    "reason": "Why",
    "priority": "Priority",
    "category": "Category",
    "requester": "From",
}
DESK_FACTS = "Facts"
DESK_STATUS = {
    "new": "Not claimed yet. Claim it, then reply in this thread: the employee sees your name and that a person is answering.",
    "claimed": "Claimed by {agent}. Replies in this thread go to the employee.",
    "waiting": "Handed back to the assistant; still open. Claim it to take the conversation again.",
    "resolved": "Resolved by {agent}.",
}
DESK_EVENT = {
    "claimed": "{agent} claimed this request.",
    "resolved": "{agent} resolved this request; the employee is back with the assistant.",
    "handed_back": "{agent} handed the employee back to the assistant; the request stays open.",
}
DESK_USER_SAYS = "*{name}* (employee): {text}"
DESK_AGENT_ELSEWHERE = "*{agent}* (from the {origin} desk): {text}"
DESK_ALREADY_CLAIMED = "{number} is already claimed by {agent}."
DESK_ALREADY_CLOSED = "{number} is already closed."
RESOLVE_TITLE = "Resolve {number}"
RESOLVE_CANCEL = "Cancel"
RESOLVE_LABEL = "Resolution note for the employee"
RESOLVE_HINT = (
    "Sent to the employee with the news that the request is resolved, and kept on the "
    "request. Leave it empty to resolve without a note."
)
DESK_CLOSED = "{number} is closed, so your message was not sent to the employee."
