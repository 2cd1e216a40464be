"""What the bot can say: one small dataclass per kind of reply. Flows decide which, with the
data it needs; the words are the edge's (`bot.dialogue.wording.reply`), whose `match` over
`Say` ends in `assert_never`, so a kind that nobody words fails type-checking."""

from __future__ import annotations

from dataclasses import dataclass

from flows.intents import Reason, SmalltalkKind
from handoff.tickets import RequestView
from retrieval.articles import Article


@dataclass(frozen=True)
class Answer:
    """A validated article's short answer, with its source."""

    article: Article


@dataclass(frozen=True)
class Choose:
    """Close candidates, to pick from (or "none of these")."""

    articles: tuple[Article, ...]


@dataclass(frozen=True)
class Rephrase:
    """Not sure what was meant: ask once to say it in other words."""


@dataclass(frozen=True)
class HandoffNotice:
    """The conversation goes to a person; the words name the ticket the core opens for it."""

    reason: Reason
    priority: str


@dataclass(frozen=True)
class FeedbackThanks:
    """The answer helped."""


@dataclass(frozen=True)
class FeedbackSorry:
    """The answer did not help."""


@dataclass(frozen=True)
class FeedbackNothing:
    """Feedback, but there was no answer to give it on."""


@dataclass(frozen=True)
class Solved:
    """Back from a person, the user says it is solved."""


@dataclass(frozen=True)
class SmallTalk:
    kind: SmalltalkKind


@dataclass(frozen=True)
class StatusNoIdentity:
    """No verified e-mail from the channel, so no requests can be looked up."""


@dataclass(frozen=True)
class StatusNotFound:
    """None of the numbers asked about is among the user's requests."""

    numbers: tuple[str, ...]


@dataclass(frozen=True)
class StatusNone:
    """The user has no requests at all."""


@dataclass(frozen=True)
class StatusList:
    """The requests asked about (or the open ones), and the numbers that were not found."""

    requests: tuple[RequestView, ...]
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusNoneOpen:
    """Nothing is open; the most recent requests instead."""

    recent: tuple[RequestView, ...]


Say = (
    Answer
    | Choose
    | Rephrase
    | HandoffNotice
    | FeedbackThanks
    | FeedbackSorry
    | FeedbackNothing
    | Solved
    | SmallTalk
    | StatusNoIdentity
    | StatusNotFound
    | StatusNone
    | StatusList
    | StatusNoneOpen
)
