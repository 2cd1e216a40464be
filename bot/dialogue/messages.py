"""Channel-neutral message types: what every channel turns its events into, and what the
dialogue core answers with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Identity:
    """Who is writing, as verified by the channel (Slack signature + users.info, a Teams
    token + roster, a web session). Never taken from the message text."""

    user_id: str
    email: str | None = None
    name: str | None = None

    @property
    def requester(self) -> str:
        """The identity tickets are filed under: the e-mail when the channel knows it."""
        return (self.email or self.user_id).lower()


@dataclass(frozen=True)
class IncomingMessage:
    channel: str  # "web", "slack", "teams", "terminal"
    conversation: str  # the channel's key for the conversation (unique within the channel)
    user: Identity
    text: str = ""
    action: str | None = None  # the value of a pressed button
    message_id: str | None = None  # the channel's id for this delivery, for de-duplication
    reference: Mapping[str, Any] = field(default_factory=dict)  # how to reach the user later


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    primary: bool = False


@dataclass(frozen=True)
class Source:
    article_id: str
    title: str
    link: str
    verified_on: date | None


@dataclass(frozen=True)
class Reply:
    text: str
    kind: str = "message"  # "disclosure", "answer", "choice", "handoff", "agent", "notice", ...
    source: Source | None = None
    buttons: tuple[Button, ...] = ()
    automated: bool = True  # False only for a person's words
    author: str | None = None  # the person's name when automated is False

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "automated": self.automated,
            "author": self.author,
            "source": None
            if self.source is None
            else {
                "article_id": self.source.article_id,
                "title": self.source.title,
                "link": self.source.link,
                "verified_on": self.source.verified_on.isoformat()
                if self.source.verified_on
                else None,
            },
            "buttons": [
                {"label": b.label, "action": b.action, "primary": b.primary} for b in self.buttons
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reply:
        source = data.get("source")
        return cls(
            text=data["text"],
            kind=data.get("kind", "message"),
            automated=data.get("automated", True),
            author=data.get("author"),
            source=None
            if not source
            else Source(
                source["article_id"],
                source["title"],
                source["link"],
                date.fromisoformat(source["verified_on"]) if source.get("verified_on") else None,
            ),
            buttons=tuple(
                Button(b["label"], b["action"], b.get("primary", False))
                for b in data.get("buttons", ())
            ),
        )
