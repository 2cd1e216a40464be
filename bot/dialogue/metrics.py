"""Prometheus metrics. One registry per server, so tests can build several apps."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.turns = Counter("deskbot_turns", "User turns handled", ["channel"], registry=r)
        self.decisions = Counter(
            "deskbot_decisions",
            "Decisions by intent and outcome",
            ["intent", "decision"],
            registry=r,
        )
        self.handoffs = Counter("deskbot_handoffs", "Handoffs by reason", ["reason"], registry=r)
        self.turn_latency = Histogram(
            "deskbot_turn_seconds",
            "Time to answer a user turn",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_latency = Histogram(
            "deskbot_http_seconds",
            "HTTP request handling time",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.outbox_depth = Gauge(
            "deskbot_outbox_depth", "Messages waiting in the outbox", registry=r
        )
        self.inbox_depth = Gauge(
            "deskbot_inbox_depth",
            "Accepted events whose turn is not saved or whose replies are not sent yet",
            registry=r,
        )
        self.errors = Counter(
            "deskbot_turn_errors", "Turns that failed and were rescued", registry=r
        )
