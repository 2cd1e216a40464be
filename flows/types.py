"""What flows take and give: a user's turn, the conversation's flow state, and an outcome made
of things to say (`flows.says`; the words are the edge's), actions for the dialogue core to
carry out, and the decision record for the audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from flows.intents import Decision, Intent, Reason
from flows.says import Say
from handoff.tickets import RequestView
from retrieval.articles import Article
from retrieval.embedding import Vector
from retrieval.knowledge import Retrieval


@dataclass(frozen=True)
class UserTurn:
    text: str  # already redacted
    action: str | None = None  # a pressed button: "helpful", "not_helpful", "human", "choose:<id>"
    requester: str | None = None  # verified identity from the channel, never from the text
    secret_kinds: frozenset[str] = frozenset()  # what redaction removed from this turn
    vector: Vector | None = None  # the text's embedding, when the caller already has it


@dataclass(frozen=True)
class FlowState:
    rephrase_asked: bool = False
    pending_choices: tuple[str, ...] = ()
    last_answer: str | None = None
    last_question: str | None = None
    negative_feedback: bool = False
    questions: tuple[str, ...] = ()
    offered: tuple[tuple[str, float], ...] = ()  # (article id, confidence), in order offered
    feedback: tuple[tuple[str, bool], ...] = ()  # (article id, helpful)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlowState:
        known = {f for f in cls.__dataclass_fields__}
        clean = {k: v for k, v in data.items() if k in known}
        for key in ("pending_choices", "questions"):
            if key in clean:
                clean[key] = tuple(clean[key])
        for key in ("offered", "feedback"):
            if key in clean:
                clean[key] = tuple(tuple(x) for x in clean[key])
        return cls(**clean)


@dataclass(frozen=True)
class Handoff:
    reason: Reason
    priority: str  # "high", "normal" or "low"
    category: str


@dataclass(frozen=True)
class RecordGap:
    question: str
    reason: str  # "low_confidence" or "not_helpful"
    nearest_article: str | None
    confidence: float


@dataclass(frozen=True)
class RecordFeedback:
    article_id: str
    helpful: bool
    question: str | None


Action = Handoff | RecordGap | RecordFeedback


@dataclass(frozen=True)
class Decided:
    """The audit record of one decision."""

    intent: Intent
    decision: Decision
    reason: Reason | None = None
    article_id: str | None = None  # the top candidate, also when not answering
    confidence: float | None = None
    threshold: float | None = None
    candidates: tuple[tuple[str, float], ...] = ()  # (article id, fused score)
    route: str = "default"
    category: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["intent"] = self.intent.value
        data["decision"] = self.decision.value
        data["reason"] = self.reason.value if self.reason else None
        return data


@dataclass(frozen=True)
class Outcome:
    state: FlowState
    says: tuple[Say, ...]
    decided: Decided
    actions: tuple[Action, ...] = ()


class Knowledge(Protocol):
    @property
    def revision(self) -> int: ...

    def question_vectors(self) -> Vector: ...

    def search(
        self, query: str, *, tags: tuple[str, ...] = (), vector: Vector | None = None
    ) -> Retrieval: ...

    def article(self, article_id: str) -> Article | None: ...


class Requests(Protocol):
    """The requests the status flow may show: only those whose requester is `requester`."""

    def requests_of(self, requester: str) -> Sequence[RequestView]: ...

    def request(self, requester: str, number: str) -> RequestView | None:
        """One by number, None unless `requester` raised it (someone else's = missing)."""
        ...
