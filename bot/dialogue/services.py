"""What the dialogue core works with, built once by the composition root (bot.wiring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.dialogue.conversations import ConversationStore
from bot.dialogue.encoding import BatchingEncoder
from bot.dialogue.inbox import Inbox
from bot.dialogue.metrics import Metrics
from bot.seams import Desks
from flows.policy import Policy
from handoff.outbox import Outbox
from handoff.tickets import TicketStore
from retrieval.gaps import GapStore
from retrieval.knowledge import KnowledgeBase


@dataclass
class Services:
    knowledge: KnowledgeBase
    policy: Policy
    conversations: ConversationStore
    tickets: TicketStore
    gaps: GapStore
    outbox: Outbox
    encoder: BatchingEncoder
    inbox: Inbox
    desks: Desks = field(default_factory=Desks)  # registered by the composition root
    metrics: Metrics = field(default_factory=Metrics)
    spool_file: Path = Path("deskbot-spool.jsonl")
