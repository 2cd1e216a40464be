"""Every word the assistant says to an employee, whatever the channel (what only one channel
shows is in that channel's own wording module).

Flows decide *what* to say (a `flows.says` kind with its data); `reply` says it. Changing the
wording never touches logic. Each automated reply is marked automated; a person's words never are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import assert_never

from bot.dialogue.messages import Button, Reply, Source
from bot.redaction import LABELS
from flows.intents import Reason, SmalltalkKind
from flows.says import (
    Answer,
    Choose,
    FeedbackNothing,
    FeedbackSorry,
    FeedbackThanks,
    HandoffNotice,
    Rephrase,
    Say,
    SmallTalk,
    Solved,
    StatusList,
    StatusNoIdentity,
    StatusNone,
    StatusNoneOpen,
    StatusNotFound,
)
from handoff.tickets import RequestView, Ticket
from retrieval.articles import Article

ASSISTANT = "deskbot"
AUTOMATED_LABEL = "Automated answer"

TALK_TO_PERSON = Button("Talk to a person", "human")
HELPFUL = Button("Helpful", "helpful")
NOT_HELPFUL = Button("Not helpful", "not_helpful")
SOLVED = Button("Yes, it's solved", "solved", primary=True)
NOT_SOLVED = Button("No, I still need help", "human")

DISCLOSURE = (
    f"Hi, I'm {ASSISTANT}, an automated assistant — not a person. I answer common IT questions "
    "from the IT knowledge base and can check your requests. To reach a person on the service "
    'desk at any time, say "talk to a person" or use the button.'
)
SECRET_REMOVED = (
    "It looks like your message contained a {what}. I removed it before saving or sharing "
    "anything — please change it now, since it was typed into a chat. I will never ask you for "
    "a password."
)
# Numbers that identify a person or an account cannot be changed: say why they were removed.
PERSONAL_NUMBER_REMOVED = (
    "It looks like your message contained a {what}. I removed it before saving or sharing "
    "anything — the service desk never needs it in a chat."
)
PERSONAL_NUMBERS = frozenset({"ssn", "ni_number", "bsn", "iban", "passport_number"})
APOLOGY = (
    "Sorry, something went wrong on my side and I couldn't handle that. Your message was "
    "kept; you can try again, or ask for a person and the service desk will pick it up."
)
APOLOGY_TICKET = (
    "Sorry, something went wrong on my side and I couldn't handle that. I've passed your "
    "message to the IT service desk as request {number}; a person will reply here."
)
NOT_UNDERSTOOD_ACTION = (
    "That button no longer applies. Ask me your question again, or talk to a person."
)
WAITING_FOR_PERSON = (
    "Your message was added to request {number}. A person from the service desk will reply here."
)
AGENT_JOINED = "{agent} from the IT service desk has joined. You are now talking to a person, not the automated assistant."
HANDED_BACK = "{agent} has handed you back to {assistant}, the automated assistant. Request {number} stays open."
RESOLVED = (
    "{agent} marked request {number} as {outcome}. You're back with {assistant}, the automated "
    "assistant. Was your issue solved?"
)
RESOLUTION_NOTE = "Resolution: {resolution}"
# When the desk works in its ITSM (DESKBOT_TICKETS is not builtin).
ITSM_TAKEN = "The service desk has your request {number} in its ticket system as {external}."
ITSM_WAITING = (
    "The service desk's ticket system isn't reachable right now. Your request {number} is "
    "recorded and will reach the desk as soon as the system is back; anything you add here "
    "goes with it."
)
SERVICE_DESK = "The IT service desk"  # who ended a request in the ITSM
SOMEONE = "Someone"  # the author of an agent's comment the ITSM does not name
SOLVED_THANKS = "Great, glad it's sorted. I'm here if you need anything else."

HANDOFF_TEXT = {
    Reason.USER_REQUEST: "Sure — I've passed this to the IT service desk as request {number}.",
    Reason.NEGATIVE_FEEDBACK: "Sorry that didn't help. I've passed this to the IT service desk as request {number}.",
    Reason.LOW_CONFIDENCE: (
        "I don't have a validated answer for that, so I've passed it to the IT service desk as "
        "request {number} rather than guess."
    ),
    Reason.REPEATED_FAILURE: (
        "I still can't find a validated answer, so I've passed this to the IT service desk as "
        "request {number}."
    ),
    Reason.RISKY_INTENT: "This needs a person, so I've passed it to the IT service desk as urgent request {number}.",
    Reason.ERROR: "I've passed this to the IT service desk as request {number}.",
}
HANDOFF_NEXT = (
    "A person will reply in this chat{when}. Anything you add here goes to them, together with "
    "a summary of our conversation so you don't have to repeat yourself."
)
HANDOFF_WHEN = {
    "high": " as soon as possible",
    "normal": " during service hours (Mon–Fri 07:00–19:00)",
}
RISKY_ADVICE = {
    "security_incident": (
        "Until they reply: don't enter anything more on the suspicious page, keep the device "
        "switched on, and disconnect it from Wi-Fi or the network cable if you can."
    ),
    "lost_device": (
        "The service desk can lock and wipe the device remotely. If it was stolen, please also "
        "report it to the police and keep the reference number."
    ),
    "data_loss": "Please stop saving to the affected folder or drive until the service desk replies; it makes recovery easier.",
    "identity_reset": "For your security, a person has to verify your identity before sign-in methods can change.",
    "access_grant": "Access changes need an approval from the owner of the resource; the service desk will arrange it.",
    "outage": "If it affects many people, the service desk may already be working on it; they will update you here.",
}

SMALLTALK = {
    "greeting": "Hello! What can I help you with today? You can ask an IT question or check on your requests.",
    "thanks": "You're welcome!",
    "goodbye": "Bye for now — I'm here whenever you need IT help.",
    "identity": (
        f"I'm {ASSISTANT}, an automated assistant, not a person. I answer from the IT knowledge "
        'base. If you\'d like a person, say "talk to a person".'
    ),
    "capabilities": (
        "I can answer common IT questions (VPN, Wi-Fi, e-mail, printing, software, passwords, "
        "and more) from the IT knowledge base, tell you the status of your requests, and pass "
        "anything else to a person on the service desk."
    ),
    "ack": "Okay. Anything else I can help with?",
}
REPHRASE = (
    "I'm not sure I understood. Could you describe it in other words — what were you trying "
    "to do, and what happened? Or talk to a person."
)
CHOOSE = "I found more than one article that might fit. Which one is closest?"
NONE_OF_THESE = Button("None of these", "human")
FEEDBACK_THANKS = "Thanks for the feedback!"
FEEDBACK_SORRY = (
    "Sorry that didn't help. I've noted it so the article can be improved. You can rephrase "
    "your question, or talk to a person."
)
FEEDBACK_NOTHING = "Thanks! Ask me anything else, or talk to a person."

STATUS_NO_IDENTITY = (
    "I can't look up requests here because I couldn't confirm your work e-mail address from "
    "this chat. You can check them at https://it.example.com/portal, or talk to a person."
)
STATUS_NOT_FOUND = (
    "I couldn't find {numbers} among your requests. I can only show requests you raised "
    "yourself; please check the number, or see https://it.example.com/portal."
)
STATUS_NONE = "You have no requests with the service desk. To raise one, just tell me what you need, or talk to a person."
STATUS_NONE_OPEN = "None of your requests are open. Your most recent ones:"
STATUS_LIST = "Here is what I found:"
STATUS_LABELS = {
    "new": "received, waiting for a person",
    "claimed": "a person is working on it",
    "waiting": "open, waiting on you or a follow-up",
    "resolved": "resolved",
    "on_hold": "on hold",
    "in_progress": "in progress",
}


ACTION_LABELS = {b.action: b.label for b in (TALK_TO_PERSON, HELPFUL, NOT_HELPFUL, SOLVED)}


def action_label(action: str | None) -> str:
    """What the user pressed, as the transcript shows it."""
    if not action:
        return ""
    if action.startswith("choose:"):
        return f"Chose: {action.removeprefix('choose:')}"
    return ACTION_LABELS.get(action, action)


def when(day: date | None) -> str:
    return day.strftime("%-d %B %Y") if day else "unknown"


def answer(article: Article) -> Reply:
    return Reply(
        text=article.short_answer,
        kind="answer",
        source=Source(article.id, article.title, article.link, article.reviewed_on),
        buttons=(HELPFUL, NOT_HELPFUL, TALK_TO_PERSON),
    )


def source_line(source: Source) -> str:
    """The provenance line every automated answer carries."""
    parts = [
        f'{AUTOMATED_LABEL} from "{source.title}"',
        f"last verified {when(source.verified_on)}",
    ]
    if source.link:
        parts.append(source.link)
    return " · ".join(parts)


def _status_line(r: RequestView) -> str:
    label = STATUS_LABELS.get(r.status, r.status.replace("_", " "))
    who = f", with {r.assignee}" if r.assignee and r.status == "claimed" else ""
    return f"• {r.number} — {r.title}: {label}{who} (updated {when(r.updated_at.date())})"


def _status_list(head: str, requests: Sequence[RequestView], missing: Sequence[str]) -> Reply:
    lines = [head, *(_status_line(r) for r in requests)]
    if missing:
        lines.append(STATUS_NOT_FOUND.format(numbers=", ".join(missing)))
    return Reply("\n".join(lines), "status")


def secret_removed(kinds: Sequence[str]) -> Reply:
    names = sorted({LABELS.get(k, "secret (key or token)") for k in kinds})
    text = PERSONAL_NUMBER_REMOVED if PERSONAL_NUMBERS.issuperset(kinds) else SECRET_REMOVED
    return Reply(text.format(what=" and ".join(names)), "notice")


def handoff(reason: Reason, priority: str, number: str, category: str | None = None) -> Reply:
    lines = [
        HANDOFF_TEXT[reason].format(number=number),
        HANDOFF_NEXT.format(when=HANDOFF_WHEN.get(priority, HANDOFF_WHEN["normal"])),
    ]
    if reason is Reason.RISKY_INTENT and category in RISKY_ADVICE:
        lines.append(RISKY_ADVICE[category])
    return Reply("\n\n".join(lines), "handoff")


def reply(say: Say, ticket: Ticket | None = None) -> Reply:
    """What a flow decided to say, in words. A hand-off notice names `ticket`, the ticket the
    core opened for it (the risky advice depends on its category)."""
    match say:
        case Answer(article=article):
            return answer(article)
        case Choose(articles=articles):
            choices = tuple(Button(a.title, f"choose:{a.id}") for a in articles)
            return Reply(CHOOSE, "choice", buttons=(*choices, NONE_OF_THESE))
        case Rephrase():
            return Reply(REPHRASE, "clarify", buttons=(TALK_TO_PERSON,))
        case HandoffNotice(reason=reason, priority=priority):
            if ticket is None:
                raise ValueError("a hand-off notice names its ticket, and none was opened")
            return handoff(reason, priority, ticket.number, ticket.category)
        case FeedbackThanks():
            return Reply(FEEDBACK_THANKS, "notice")
        case FeedbackSorry():
            return Reply(FEEDBACK_SORRY, "clarify", buttons=(TALK_TO_PERSON,))
        case FeedbackNothing():
            return Reply(FEEDBACK_NOTHING, "notice")
        case Solved():
            return Reply(SOLVED_THANKS, "notice")
        case SmallTalk(kind=kind):
            buttons = (TALK_TO_PERSON,) if kind is SmalltalkKind.IDENTITY else ()
            return Reply(SMALLTALK[kind], "smalltalk", buttons=buttons)
        case StatusNoIdentity():
            return Reply(STATUS_NO_IDENTITY, "status", buttons=(TALK_TO_PERSON,))
        case StatusNotFound(numbers=numbers):
            text = STATUS_NOT_FOUND.format(numbers=", ".join(numbers))
            return Reply(text, "status", buttons=(TALK_TO_PERSON,))
        case StatusNone():
            return Reply(STATUS_NONE, "status")
        case StatusList(requests=requests, missing=missing):
            return _status_list(STATUS_LIST, requests, missing)
        case StatusNoneOpen(recent=recent):
            return _status_list(STATUS_NONE_OPEN, recent, ())
        case _:
            assert_never(say)


def plain_text(reply: Reply) -> str:
    """A reply as plain text, for channels without rich formatting (and notifications)."""
    lines = [reply.text]
    if reply.source is not None:
        lines.append(source_line(reply.source))
    if not reply.automated and reply.author:
        lines[0] = f"{reply.author} (service desk): {reply.text}"
    return "\n".join(lines)


# The database could not be reached: the message is safe (inbox or spool) and answered later.
KEPT = (
    "Sorry, I can't answer right now: I'm having trouble reaching my records. Your message was "
    "kept, and I'll answer it here as soon as I can."
)
