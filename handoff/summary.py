"""Ticket titles and the short case summary an agent reads when a chat is handed over.

Plain text built only from the outline, so the same conversation always gives the same ticket,
and short enough (at most six lines, 600 characters) that an agent grasps the case in about ten
seconds instead of reading the transcript. Every line is capped on its own and the quoted
question gets whatever room is left, so no input can push the summary past the bound.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from handoff.facts import Facts, extract_facts

__all__ = ["SUMMARY_LIMIT", "TITLE_LIMIT", "CaseOutline", "summarize", "ticket_title"]

TITLE_LIMIT = 80
SUMMARY_LIMIT = 600
_QUOTE_LIMIT = 160
_WHY_LIMIT = 100
_TRIED_LIMIT = 120
_FACTS_LIMIT = 100
_PRIORITY_LIMIT = 60
_FROM_LIMIT = 85


@dataclass(frozen=True)
class CaseOutline:
    """What the ticket knows about a handed-over conversation; all texts already redacted."""

    reason: str  # user_request, low_confidence, risky_intent, negative_feedback, ...
    priority: str  # high, normal, low
    category: str  # vpn, security_incident, general, ...
    requester: str  # e-mail or id
    channel: str  # web, slack, teams, terminal
    questions: Sequence[str]  # the user's messages, oldest first
    offered: Sequence[tuple[str, float | None]] = ()  # (article title, confidence 0..1)
    feedback: Sequence[tuple[str, bool]] = ()  # (article title, helpful?)
    facts: Facts = field(default_factory=Facts)  # empty: extracted from the questions
    requester_name: str | None = None


_WHY: dict[str, str] = {
    "user_request": "the user asked for a person.",
    "negative_feedback": "the user asked for a person (after an answer they found not helpful).",
    "low_confidence": "the bot found no answer it was confident enough to give.",
    "risky_intent": "a sensitive request; the bot never handles these on its own.",
    "repeated_failure": "the bot's answers did not solve it after several tries.",
    "error": "the bot hit an internal error and could not go on.",
}
_FALLBACK_TITLE: dict[str, str] = {
    "user_request": "Asked for a person",
    "negative_feedback": "Asked for a person after an unhelpful answer",
    "low_confidence": "Question the bot could not answer",
    "risky_intent": "Sensitive request",
    "repeated_failure": "Bot answers did not help",
    "error": "Chat stopped by a bot error",
}
_CHANNELS: dict[str, str] = {
    "web": "web chat",
    "slack": "Slack",
    "teams": "Microsoft Teams",
    "terminal": "terminal",
}

# Words that say nothing about the problem: greetings, politeness, asking for a person,
# complaining about the bot. A message made only of these is not a question worth quoting.
_FILLER = frozenset(
    """a an the and or but so to of in on at for with from by about into as if then than
    i i'm im i've ive i'd me my mine we we're us our you you're your u it it's its this that
    these those there here is are was were be been being am do does did doesn't didn't don't
    dont can can't cant cannot could would will won't wont should shall may might must just
    still again also too really very now already yet any some anything something
    hi hello hey hiya howdy yo morning afternoon evening good day greetings everyone all folks
    deskbot bot robot chatbot please pls plz thanks thank thx ty cheers ok okay k kk sure yes
    yeah yep no nope nah hmm hm right fine great cool well oh
    talk speak chat human humans person people agent agents someone somebody anyone anybody
    real live actual operator representative rep technician tech engineer support helpdesk help
    desk service staff colleague get give connect transfer escalate escalation forward hand pass
    put send need needed want like asap urgent urgently immediately call back callback ring
    contact reach not helpful useful useless pointless working work works worked answer answers
    same problem problems issue issues thing things nothing what why how when where who which
    try tried trying doesnt didnt isnt""".split()
)
_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CONTENT_CAP = 12  # beyond this, length stops counting: a concise message beats a rambling one
_PLACEHOLDER_RE = re.compile(r"\[(?:redacted|removed|hidden|masked)\b[^\]\n]{0,40}\]", re.I)
_GREETING_RE = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day)"
    r"|morning|afternoon|evening)(?: (?:there|all|team|everyone|folks|deskbot|bot))?"
    r" ?[,.!:;–—-]+ ?"
    r"|(?:hi|hello|hey|hiya)(?: (?:there|all|team|everyone|folks|deskbot|bot))? )+",
    re.IGNORECASE,
)
_NUMERIC_CODE_RE = re.compile(r"\d+(?:-\d+)*")


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------


def _clean(text: str | None) -> str:
    """One line, single spaces: user text must never add lines to the summary."""
    return " ".join((text or "").split())


def _trim(text: str, limit: int) -> str:
    """Cut to ``limit`` characters at a word boundary with "…", never inside a placeholder."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    end = limit - 1
    cut = text[:end]
    inside = next((m for m in _PLACEHOLDER_RE.finditer(text) if m.start() < end < m.end()), None)
    if inside is not None:
        cut = text[: inside.start()]
    elif not text[end].isspace():
        space = cut.rfind(" ")
        if space >= end // 2:
            cut = cut[:space]
    cut = cut.rstrip(" ,;:.-–—")
    return (cut or text[:end]) + "…"


def _strip_greeting(text: str) -> str:
    rest = _GREETING_RE.sub("", text, count=1)
    return rest if rest else text


def _label(code: str) -> str:
    """ "security_incident" -> "security incident"."""
    return _clean(code.replace("_", " "))


def _channel(code: str) -> str:
    return _CHANNELS.get(code.strip().lower(), _trim(_label(code), 20) or "unknown channel")


# --------------------------------------------------------------------------------------------
# Choosing the question
# --------------------------------------------------------------------------------------------


def _score(text: str) -> int:
    """How much a message tells an agent: distinct content words (capped) plus named things."""
    plain = _PLACEHOLDER_RE.sub(" ", text).lower().replace("’", "'")
    content = {w for w in _WORD_RE.findall(plain) if len(w) > 1 and w not in _FILLER}
    facts = extract_facts([text])
    named = len(facts.error_codes) + len(facts.applications) + len(facts.devices)
    return min(len(content), _CONTENT_CAP) + 3 * named + len(facts.ticket_numbers)


def _best(messages: Sequence[str]) -> int | None:
    """Index of the most informative message, the earliest on ties; None if all are filler."""
    best, best_score = None, 0
    for i, message in enumerate(messages):
        score = _score(message)
        if score > best_score:
            best, best_score = i, score
    return best


def _messages(outline: CaseOutline) -> list[str]:
    return [m for m in (_clean(q) for q in outline.questions) if m]


# --------------------------------------------------------------------------------------------
# Title
# --------------------------------------------------------------------------------------------


def ticket_title(outline: CaseOutline) -> str:
    """The most informative user question, or what happened when there was none."""
    messages = _messages(outline)
    best = _best(messages)
    if best is not None:
        return _trim(_strip_greeting(messages[best]), TITLE_LIMIT)
    what = _FALLBACK_TITLE.get(outline.reason, "Handed over to the service desk")
    category = _label(outline.category)
    if outline.reason == "risky_intent" and category and category != "general":
        what = category[:1].upper() + category[1:]
    return _trim(f"{what} ({_channel(outline.channel)})", TITLE_LIMIT)


# --------------------------------------------------------------------------------------------
# Summary lines
# --------------------------------------------------------------------------------------------


def _fit(prefix: str, parts: Sequence[str], sep: str, limit: int) -> str:
    """Join as many parts as fit in ``limit``; the others are counted, not shown."""
    shown: list[str] = []
    for part in parts:
        hidden = len(parts) - len(shown) - 1
        more = f" (+{hidden} more)" if hidden else ""
        if len(prefix + sep.join([*shown, part]) + more) > limit:
            break
        shown.append(part)
    hidden = len(parts) - len(shown)
    if not shown:
        more = f" (+{hidden - 1} more)" if hidden > 1 else ""
        return prefix + _trim(parts[0], limit - len(prefix) - len(more)) + more
    return prefix + sep.join(shown) + (f" (+{hidden} more)" if hidden else "")


def _why_line(outline: CaseOutline) -> str:
    reason = _label(outline.reason)
    why = _WHY.get(outline.reason, f"handed over ({reason})." if reason else "handed over.")
    return _trim(f"Why: {why}", _WHY_LIMIT)


def _asked_line(messages: Sequence[str], budget: int) -> str | None:
    if not messages:
        return None
    best = _best(messages)
    text = messages[-1] if best is None else _strip_greeting(messages[best])
    others = len(messages) - 1
    more = f" (+{others} more message{'' if others == 1 else 's'})" if others else ""
    room = min(_QUOTE_LIMIT, budget - len('Asked: ""') - len(more))
    return f'Asked: "{_trim(text, room)}"{more}'


def _confidence(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f" (conf {min(max(value, 0.0), 1.0):.2f})"


def _tried_line(outline: CaseOutline) -> str | None:
    verdicts = {_clean(title).casefold(): helpful for title, helpful in outline.feedback}
    articles: dict[str, tuple[str, float | None]] = {}
    for title, confidence in (*outline.offered, *((t, None) for t, _ in outline.feedback)):
        key = _clean(title).casefold()
        if key and key not in articles:
            articles[key] = (_clean(title), confidence)
    parts: list[str] = []
    for key, (title, confidence) in articles.items():
        verdict = verdicts.get(key)
        said = "" if verdict is None else " — helpful" if verdict else " — not helpful"
        parts.append(f"{_trim(title, 60)}{_confidence(confidence)}{said}")
    return _fit("Tried: ", parts, "; ", _TRIED_LIMIT) if parts else None


def _fact_labels(facts: Facts) -> list[str]:
    codes = [f"error {c}" if _NUMERIC_CODE_RE.fullmatch(c) else c for c in facts.error_codes]
    named = [*codes, *facts.applications, *facts.devices, *facts.times, *facts.ticket_numbers]
    return [_trim(_clean(label), 40) for label in named if _clean(label)]


def _facts_line(facts: Facts) -> str | None:
    labels = _fact_labels(facts)
    return _fit("Facts: ", labels, " · ", _FACTS_LIMIT) if labels else None


def _priority_line(outline: CaseOutline) -> str:
    priority = _clean(outline.priority) or "unset"
    category = _label(outline.category)
    if not category or category == "general":
        line = f"Priority: {priority}"
    elif outline.reason == "risky_intent":
        line = f"Priority: {priority} ({category})"
    else:
        line = f"Priority: {priority} · topic: {category}"
    return _trim(line, _PRIORITY_LIMIT)


def _from_line(outline: CaseOutline) -> str:
    name = _trim(_clean(outline.requester_name), 24)
    requester = _trim(_clean(outline.requester), 32)
    if name and requester:
        who = f"{name} <{requester}>" if "@" in requester else f"{name} ({requester})"
    else:
        who = name or requester or "unknown requester"
    return _trim(f"From: {who} · {_channel(outline.channel)}", _FROM_LIMIT)


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


def summarize(outline: CaseOutline) -> str:
    """Why it was handed over, what was asked and tried, the facts, priority and requester.

    When the outline carries no facts they are extracted from the questions, so callers that
    only have the transcript still get a facts line.
    """
    facts = outline.facts if not outline.facts.empty else extract_facts(outline.questions)
    head = [_why_line(outline)]
    tail = [
        line
        for line in (
            _tried_line(outline),
            _facts_line(facts),
            _priority_line(outline),
            _from_line(outline),
        )
        if line
    ]
    used = sum(len(line) + 1 for line in (*head, *tail))
    asked = _asked_line(_messages(outline), SUMMARY_LIMIT - used - 1)
    return "\n".join([*head, *([asked] if asked else []), *tail])
