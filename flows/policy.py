"""The dispatcher: route a turn to its flow. The allow-list is the intent -> flow table in
`Policy.handle`; anything the router cannot place is treated as a question for the knowledge
base, which answers only when confident and otherwise asks once to rephrase or hands off."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from flows import buttons, escalation
from flows.answering import AnswerPolicy, answer, handoff
from flows.intents import Decision, Intent, Reason
from flows.request_status import request_status
from flows.router import Route, Router
from flows.says import Solved
from flows.smalltalk import smalltalk
from flows.types import (
    Decided,
    FlowState,
    Knowledge,
    Outcome,
    RecordGap,
    Requests,
    UserTurn,
)

PASSWORD_TAGS = ("password",)


@dataclass
class Policy:
    router: Router
    knowledge: Knowledge
    requests: Requests
    answering: AnswerPolicy = field(default_factory=AnswerPolicy)

    def handle(self, state: FlowState, turn: UserTurn) -> Outcome:
        if turn.action:
            pressed = self._button(state, turn)
            if pressed is not None:
                return pressed
        picked = buttons.numbered_choice(state, turn.text)
        if picked is not None:
            chosen = buttons.choice(state, picked, self.knowledge)
            if chosen is not None:
                return chosen
        self.learn()
        route = self.router.route(turn.text, turn.vector)
        if self._guessed(route):
            # The classifier guessed (rules catch the explicit cases and are never overridden);
            # a confident validated answer outranks a guess of "person" or "maybe risky".
            hit = self.knowledge.search(turn.text, vector=turn.vector)
            if hit.confident:
                return answer(
                    replace(state, pending_choices=()), turn, hit, Intent.FAQ, self.answering
                )
        flows: dict[Intent, Callable[[FlowState, UserTurn, Route], Outcome]] = {
            Intent.HUMAN: escalation.human,
            Intent.RISKY: escalation.risky,
            Intent.SMALLTALK: smalltalk,
            Intent.REQUEST_STATUS: lambda s, t, r: request_status(s, t, r, self.requests),
            Intent.PASSWORD: self._password,
            Intent.FAQ: self._faq,
            Intent.UNKNOWN: self._not_it,
        }
        return flows[route.intent](replace(state, pending_choices=()), turn, route)

    def learn(self) -> None:
        """Train the router on the knowledge base's questions if they changed since it last
        learned. The one place the router is trained: at warm-up, and by the first turn after
        an edit of the knowledge base."""
        if self.router.revision != self.knowledge.revision:
            self.router.learn(self.knowledge.question_vectors(), self.knowledge.revision)

    def _guessed(self, route: Route) -> bool:
        if route.via != "classifier":
            return False
        if route.intent is Intent.HUMAN:
            return True
        certain = self.router.thresholds.risky_certain
        return route.intent is Intent.RISKY and route.probability < certain

    def _button(self, state: FlowState, turn: UserTurn) -> Outcome | None:
        action = turn.action or ""
        if action == "helpful":
            return buttons.feedback(state, turn, helpful=True)
        if action == "not_helpful":
            return buttons.feedback(state, turn, helpful=False)
        if action == "solved":
            return Outcome(
                state, (Solved(),), Decided(Intent.SMALLTALK, Decision.REPLY, route="button")
            )
        if action == "human":
            return escalation.human(state, turn, Route(Intent.HUMAN, via="button"))
        if action.startswith("choose:"):
            return buttons.choice(state, action.removeprefix("choose:"), self.knowledge)
        return None

    def _faq(self, state: FlowState, turn: UserTurn, route: Route) -> Outcome:
        hit = self.knowledge.search(turn.text, vector=turn.vector)
        off_topic = route.off_topic >= self.router.thresholds.maybe_off_topic
        return answer(state, turn, hit, Intent.FAQ, self.answering, maybe_off_topic=off_topic)

    def _not_it(self, state: FlowState, turn: UserTurn, route: Route) -> Outcome:
        """Not an IT question: rather than ask to rephrase, hand it to a person who can point
        the way (the knowledge base had no confident answer either)."""
        hit = self.knowledge.search(turn.text, vector=turn.vector)
        gap = RecordGap(turn.text, "low_confidence", None, hit.confidence)
        return handoff(
            replace(state, questions=(*state.questions, turn.text)),
            Intent.UNKNOWN,
            Reason.LOW_CONFIDENCE,
            "low",
            "general",
            hit,
            actions=(gap,),
            route=route.via,
        )

    def _password(self, state: FlowState, turn: UserTurn, route: Route) -> Outcome:
        """Password guidance comes from password articles; a question the router called a
        password question but no password article answers is still an ordinary question."""
        hit = self.knowledge.search(turn.text, tags=PASSWORD_TAGS, vector=turn.vector)
        if not hit.confident:
            general = self.knowledge.search(turn.text, vector=turn.vector)
            if general.confident or general.confidence > hit.confidence:
                hit = general
        return answer(state, turn, hit, Intent.PASSWORD, self.answering)
