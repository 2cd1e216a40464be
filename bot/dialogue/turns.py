"""User turns: one turn is redact -> load state -> route -> flow -> decide -> persist -> audit.
Channels turn their events into `IncomingMessage`s and render the `Reply`s.

Every conversation starts with the disclosure that this is an automated assistant. While a
person has the conversation the assistant does not answer: the user's messages go to the
ticket and the desks (what agents do is the relay's, bot.dialogue.relay).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.dialogue import wording
from bot.dialogue.cleaning import clean
from bot.dialogue.conversations import Conversation, ConversationChanged, StoredMessage
from bot.dialogue.faults import transient
from bot.dialogue.inbox import AlreadyHandled, Entry, Kept
from bot.dialogue.messages import IncomingMessage, Reply
from bot.dialogue.outbound import notify_desks
from bot.dialogue.services import Services
from bot.dialogue.spool import spool
from bot.failures import log_failure
from bot.redaction import Redaction, redact
from bot.redaction.redactor import Finding
from bot.seams import DeskEvent
from flows.intents import Reason
from flows.types import FlowState, Handoff, Outcome, RecordFeedback, RecordGap, UserTurn
from handoff.case import Case, new_ticket
from handoff.tickets import EventKind, Ticket
from retrieval.embedding import Vector

log = logging.getLogger(__name__)

# A turn whose conversation another replica saved meanwhile is decided again on the new state;
# more than a couple of collisions in a row means something else is wrong.
TURN_ATTEMPTS = 3


def _consume(task: asyncio.Future[Vector | None]) -> None:
    """Retrieve an unused encoding's failure, so asyncio does not log it as unhandled; a
    turn that needed the vector got the failure when it awaited it."""
    if not task.cancelled():
        task.exception()


class Turns:
    def __init__(self, services: Services) -> None:
        self.s = services
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def handle(self, message: IncomingMessage, entry: Entry | None = None) -> list[Reply]:
        """One user turn; `entry` is its row in the inbox (already cleaned and redacted), marked
        done in the turn's own transaction. Never raises, but for `Kept` with an entry: the
        database could not be reached, the row stays for a later attempt. On any other failure
        the user gets an apology and a way to a person, and the failure is logged without the
        user's words."""
        if entry is not None:
            # what redaction removed, by kind (the spans are in text that was never stored)
            found = tuple(Finding(kind, 0, 0) for kind in sorted(entry.kinds))
            redaction = Redaction(entry.message.text, found)
        else:
            redaction = redact(clean(message.text))
        metrics = self.s.metrics
        metrics.turns.labels(message.channel).inc()
        with metrics.turn_latency.labels(message.channel).time():
            return await self._handle(message, redaction, entry)

    async def _handle(
        self, message: IncomingMessage, redaction: Redaction, entry: Entry | None
    ) -> list[Reply]:
        # The model runs while the database is read: most turns need the vector, and the
        # encoder has its own thread. Unused (a retry, a person on the line), it is dropped.
        encoding = asyncio.ensure_future(self._vector(redaction.text, message.action))
        encoding.add_done_callback(_consume)
        done = _Done(self, message, entry)
        try:
            if (
                entry is None
                and message.message_id
                and await asyncio.to_thread(
                    self.s.conversations.delivered, message.channel, message.message_id
                )
            ):
                return []  # a retry of something already handled
            conversation = await asyncio.to_thread(self._open, message)
            async with self._lock(conversation.id):
                for attempt in range(TURN_ATTEMPTS):
                    # re-read inside the lock: another turn may just have changed it
                    current = await asyncio.to_thread(self.s.conversations.get, conversation.id)
                    if current is None:
                        raise LookupError(f"conversation {conversation.id} is gone")
                    if current.with_person:
                        return await asyncio.to_thread(
                            self._to_person, current, message, redaction, done
                        )
                    vector = await encoding
                    try:
                        return await asyncio.to_thread(
                            self._turn, current, message, redaction, vector, done
                        )
                    except ConversationChanged:
                        # another replica handled a message of this conversation meanwhile;
                        # nothing of this attempt was stored: decide again on the new state
                        if attempt + 1 == TURN_ATTEMPTS:
                            raise
                raise AssertionError("unreachable")
        except AlreadyHandled:
            return []  # another process finished this delivery first
        except IntegrityError as exc:
            if done.duplicate(exc):
                return []
            return await self._failed(message, redaction, entry, done, exc)
        except Exception as exc:
            return await self._failed(message, redaction, entry, done, exc)
        finally:
            encoding.cancel()  # no-op once it is done

    async def greeted(self, message: IncomingMessage, greeting: Reply) -> None:
        """The channel greeted the user before any turn, with words that include the
        disclosure (Teams does, when the app is installed): the greeting goes in the
        transcript, and the first answer does not disclose again."""
        await asyncio.to_thread(self._greeted, message, greeting)

    def _greeted(self, message: IncomingMessage, greeting: Reply) -> None:
        conversation = self._open(message)
        with self.s.conversations.engine.begin() as conn:
            self.s.conversations.add_messages(
                conn, conversation.id, [("bot", greeting.text, {"reply": greeting.to_dict()})]
            )
            self.s.conversations.save(conn, replace(conversation, disclosed=True), checked=False)

    async def _failed(
        self,
        message: IncomingMessage,
        redaction: Redaction,
        entry: Entry | None,
        done: _Done,
        exc: Exception,
    ) -> list[Reply]:
        if entry is not None and transient(exc):
            # the message is safe in the inbox: answered once the database is back
            log.warning(
                "a turn in %s waits for the database: %s", message.channel, type(exc).__name__
            )
            raise Kept(entry.key) from exc
        log_failure(log, f"a turn in {message.channel}", exc)
        self.s.metrics.errors.inc()
        try:
            return await asyncio.to_thread(self._rescue, message, redaction, done)
        except AlreadyHandled:
            return []

    def _rescue(self, message: IncomingMessage, redaction: Redaction, done: _Done) -> list[Reply]:
        """A turn failed (model, index or database): keep the message and give the user a
        way to a person. If the database is reachable the message goes to an error ticket."""
        apology = Reply(wording.APOLOGY, "error", buttons=(wording.TALK_TO_PERSON,))
        try:
            conversation = self._open(message)
            text = redaction.text.strip() or f"[{wording.action_label(message.action)}]"
            history = self.s.conversations.messages(conversation.id)
            with self.s.conversations.engine.begin() as conn:
                self.s.conversations.add_messages(
                    conn,
                    conversation.id,
                    [("user", text, {}), ("bot", apology.text, {"reply": apology.to_dict()})],
                )
                if not conversation.with_person:
                    handoff = Handoff(Reason.ERROR, "normal", "general")
                    state = FlowState.from_dict(conversation.flow_state)
                    ticket = self._open_ticket(conn, conversation, state, handoff, text, history)
                    self.s.conversations.save(
                        conn,
                        replace(conversation, mode="human", ticket_id=ticket.id, disclosed=True),
                        checked=False,
                    )
                    notify_desks(self.s, conn, ticket, DeskEvent.OPENED)
                    apology = replace(
                        apology,
                        text=wording.APOLOGY_TICKET.format(number=ticket.number),
                        buttons=(),
                    )
                done(conn, [apology])
        except AlreadyHandled:
            raise
        except Exception as exc:
            log_failure(log, "keeping a failed turn", exc)
            if done.entry is not None:
                if transient(exc):
                    raise Kept(done.entry.key) from exc
                # it can never be saved: recorded as rejected, never retried
                self.s.inbox.reject(done.entry, type(exc).__name__)
            else:
                spool(self.s.spool_file, message.channel, message.conversation, redaction.text)
        return [apology]

    def _open(self, message: IncomingMessage) -> Conversation:
        user = message.user
        return self.s.conversations.open(
            message.channel,
            message.conversation,
            user.user_id,
            user.requester,
            user.name,
            message.reference,
        )

    async def _vector(self, text: str, action: str | None) -> Vector | None:
        if action or not text.strip():
            return None
        return await self.s.encoder.encode(text)

    # -- a turn with the assistant -----------------------------------------------------------

    def _turn(
        self,
        conversation: Conversation,
        message: IncomingMessage,
        redaction: Redaction,
        vector: Vector | None,
        done: _Done,
    ) -> list[Reply]:
        started = time.perf_counter()
        self.s.knowledge.refresh()
        text = redaction.text.strip()
        state = FlowState.from_dict(conversation.flow_state)
        turn = UserTurn(
            text, message.action, message.user.email, frozenset(redaction.kinds), vector
        )
        outcome = self.s.policy.handle(state, turn)
        replies: list[Reply] = []
        if not conversation.disclosed:
            replies.append(
                Reply(wording.DISCLOSURE, "disclosure", buttons=(wording.TALK_TO_PERSON,))
            )
        if redaction.found:
            replies.append(wording.secret_removed(sorted(redaction.kinds)))
        # Read before the write transaction: a transaction that waits for a second pooled
        # connection can deadlock the pool under load.
        hands_off = any(isinstance(a, Handoff) for a in outcome.actions)
        history = self.s.conversations.messages(conversation.id) if hands_off else []
        with self.s.conversations.engine.begin() as conn:
            ticket = self._carry_out(conn, conversation, outcome, text, history, vector)
            replies.extend(wording.reply(say, ticket) for say in outcome.says)
            if not replies:
                replies.append(
                    Reply(
                        wording.NOT_UNDERSTOOD_ACTION, "notice", buttons=(wording.TALK_TO_PERSON,)
                    )
                )
            updated = replace(
                conversation,
                flow_state=outcome.state.to_dict(),
                disclosed=True,
                mode="human" if ticket else conversation.mode,
                ticket_id=ticket.id if ticket else conversation.ticket_id,
            )
            user_line = text if text else f"[{wording.action_label(message.action)}]"
            self.s.conversations.add_messages(
                conn,
                conversation.id,
                [
                    ("user", user_line, {"action": message.action} if message.action else {}),
                    *(("bot", r.text, {"reply": r.to_dict()}) for r in replies),
                ],
            )
            self.s.conversations.save(conn, updated)
            d = outcome.decided
            self.s.metrics.decisions.labels(d.intent.value, d.decision.value).inc()
            if d.reason is not None:
                self.s.metrics.handoffs.labels(d.reason.value).inc()
            self.s.conversations.add_decision(
                conn,
                {
                    "conversation_id": conversation.id,
                    "channel": conversation.channel,
                    "intent": d.intent.value,
                    "decision": d.decision.value,
                    "reason": d.reason.value if d.reason else None,
                    "article_id": d.article_id,
                    "confidence": d.confidence,
                    "threshold": d.threshold,
                    "candidates": [list(c) for c in d.candidates],
                    "route": d.route,
                    "category": d.category,
                    "question": text or None,
                    "latency_ms": (time.perf_counter() - started) * 1000,
                },
            )
            if ticket is not None:
                notify_desks(self.s, conn, ticket, DeskEvent.OPENED)
            done(conn, replies)
        return replies

    def _carry_out(
        self,
        conn: Connection,
        conversation: Conversation,
        outcome: Outcome,
        text: str,
        history: Sequence[StoredMessage],
        vector: Vector | None = None,
    ) -> Ticket | None:
        ticket = None
        for action in outcome.actions:
            if isinstance(action, Handoff):
                ticket = self._open_ticket(conn, conversation, outcome.state, action, text, history)
            elif isinstance(action, RecordGap):
                # this turn's vector goes with it, so clustering gaps needs no model
                same = vector is not None and action.question == text
                self.s.gaps.record_gap(
                    action.question,
                    action.reason,
                    action.nearest_article,
                    action.confidence,
                    conn,
                    vector=vector if same else None,
                    model=self.s.encoder.embedder.name,
                )
            elif isinstance(action, RecordFeedback):
                self.s.gaps.record_feedback(
                    action.article_id, action.helpful, action.question, conn
                )
        return ticket

    def _open_ticket(
        self,
        conn: Connection,
        conversation: Conversation,
        state: FlowState,
        handoff: Handoff,
        text: str,
        history: Sequence[StoredMessage],
    ) -> Ticket:
        transcript = [{"at": m.at.isoformat(), "role": m.role, "text": m.text} for m in history]
        if text:
            transcript.append(
                {"at": self.s.conversations.now().isoformat(), "role": "user", "text": text}
            )
        articles = {a for a, _ in (*state.offered, *state.feedback)}
        case = Case(
            reason=handoff.reason.value,
            priority=handoff.priority,
            category=handoff.category,
            requester=conversation.requester,
            requester_name=conversation.requester_name,
            channel=conversation.channel,
            conversation_id=conversation.id,
            questions=list(state.questions) or ([text] if text else []),
            offered=state.offered,
            feedback=state.feedback,
            titles={a: article.title for a in articles if (article := self.s.knowledge.article(a))},
            transcript=transcript,
        )
        return self.s.tickets.create(new_ticket(case), conn)

    # -- a turn while a person has the conversation -------------------------------------------

    def _to_person(
        self,
        conversation: Conversation,
        message: IncomingMessage,
        redaction: Redaction,
        done: _Done,
    ) -> list[Reply]:
        """The user's words go to the ticket and the agents; the assistant stays quiet."""
        text = redaction.text.strip() or (
            f"[{wording.action_label(message.action)}]" if message.action else ""
        )
        replies: list[Reply] = []
        if redaction.found:
            replies.append(wording.secret_removed(sorted(redaction.kinds)))
        ticket = self.s.tickets.get(conversation.ticket_id) if conversation.ticket_id else None
        if ticket is None or not ticket.open:  # defensive: no open ticket means back to the bot
            with self.s.conversations.engine.begin() as conn:
                self.s.conversations.save(conn, replace(conversation, mode="bot"), checked=False)
                done(conn, replies)
            return replies
        if not conversation.agent_name and not message.action:
            replies.append(
                Reply(wording.WAITING_FOR_PERSON.format(number=ticket.public_number), "notice")
            )
        with self.s.conversations.engine.begin() as conn:
            self.s.tickets.add_event(
                ticket.id, EventKind.USER_MESSAGE, conversation.requester, text, conn
            )
            self.s.conversations.add_messages(
                conn,
                conversation.id,
                [("user", text, {}), *(("bot", r.text, {"reply": r.to_dict()}) for r in replies)],
            )
            notify_desks(self.s, conn, ticket, DeskEvent.USER_MESSAGE, {"text": text})
            done(conn, replies)
        return replies


class _Done:
    """Marks a turn's delivery handled inside the transaction that saves the turn: its inbox
    row, or (without one) its delivery id. A delivery counts as handled only once its turn is
    committed, so a turn that dies half-way is retried rather than dropped."""

    def __init__(self, turns: Turns, message: IncomingMessage, entry: Entry | None) -> None:
        self.turns = turns
        self.message = message
        self.entry = entry

    def __call__(self, conn: Connection, replies: Sequence[Reply]) -> None:
        if self.entry is not None:
            self.turns.s.inbox.finish(conn, self.entry, replies)
        elif self.message.message_id:
            self.turns.s.conversations.record_delivery(
                conn, self.message.channel, self.message.message_id
            )

    def duplicate(self, exc: IntegrityError) -> bool:
        """Whether a failed commit was this delivery being recorded a second time."""
        message = self.message
        if self.entry is not None or not message.message_id:
            return False
        try:
            return self.turns.s.conversations.delivered(message.channel, message.message_id)
        except Exception:
            return False
