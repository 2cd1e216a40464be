"""The intents deskbot knows. Only faq, password, request_status and smalltalk are answered
automatically; human and risky always go to a person."""

from __future__ import annotations

from enum import StrEnum


class Intent(StrEnum):
    FAQ = "faq"
    PASSWORD = "password"
    REQUEST_STATUS = "request_status"
    HUMAN = "human"
    RISKY = "risky"
    SMALLTALK = "smalltalk"
    UNKNOWN = "unknown"


class Decision(StrEnum):
    ANSWER = "answer"
    HANDOFF = "handoff"
    CLARIFY = "clarify"
    REPLY = "reply"


class Reason(StrEnum):
    """Why a conversation was handed to a person (the ticket's reason code)."""

    USER_REQUEST = "user_request"
    LOW_CONFIDENCE = "low_confidence"
    RISKY_INTENT = "risky_intent"
    NEGATIVE_FEEDBACK = "negative_feedback"
    REPEATED_FAILURE = "repeated_failure"
    ERROR = "error"


class SmalltalkKind(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    IDENTITY = "identity"  # "are you a bot?" - always answered truthfully
    CAPABILITIES = "capabilities"
    ACK = "ack"
