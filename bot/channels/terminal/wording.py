"""What only the terminal chat shows. The assistant's own words are in bot.dialogue.wording."""

from __future__ import annotations

GREETING = "Type your question (/help for commands, /quit to leave). You are chatting with an automated assistant."
OPTION = "  {number}) {label}"
QUIT = frozenset({"/quit", "/exit", "quit", "exit"})
HELP = """Commands:
  /help   this list
  /new    start a new conversation (a request already handed to the service desk stays open)
  /quit   leave (or /exit)
Type a number to pick one of the offered options; anything else is sent to deskbot."""
NEW = "New conversation started."
UNKNOWN_COMMAND = "There is no command {command}: /help lists the commands. Nothing was sent."
GUEST = "You chat as a guest: without --as EMAIL, deskbot cannot look up your requests."
UNKNOWN_USER = "deskbot does not know {email} (no employee or request with that address): you chat as a guest under it, and no requests will be found."
KNOWN_USER = "You chat as {name} ({email})."
