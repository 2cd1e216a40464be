"""What only the terminal chat shows. The assistant's own words are in bot.dialogue.wording."""

from __future__ import annotations

GREETING = "Type your question (or /quit). You are chatting with an automated assistant."
OPTION = "  {number}) {label}"
QUIT = frozenset({"/quit", "/exit", "quit", "exit"})
