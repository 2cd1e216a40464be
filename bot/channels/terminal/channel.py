"""The terminal chat: one line in, the replies out as text. Buttons become numbered options."""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.channels.terminal import wording as terminal_wording
from bot.dialogue.conversations import ConversationStore
from bot.dialogue.messages import Identity, IncomingMessage, Reply
from bot.dialogue.turns import Turns
from bot.dialogue.wording import plain_text


def render(reply: Reply) -> tuple[str, list[str]]:
    """A reply as text with numbered options, and the actions behind the numbers."""
    lines = [plain_text(reply)]
    actions = []
    for n, button in enumerate(reply.buttons, start=1):
        lines.append(terminal_wording.OPTION.format(number=n, label=button.label))
        actions.append(button.action)
    return "\n".join(lines), actions


class Lines:
    """Lines typed by the user, read by a daemon thread from the moment the prompt is shown:
    what is typed while deskbot loads waits here, and a pending read never holds up the exit."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lines: asyncio.Queue[str] | None = None
        self._early: list[str] = []  # read before a loop asked for a line
        self._loop: asyncio.AbstractEventLoop | None = None
        self._guard = threading.Lock()
        threading.Thread(target=self._read, name="stdin", daemon=True).start()

    @classmethod
    def from_stdin(cls) -> Lines:
        return cls(sys.stdin)

    def _read(self) -> None:
        while True:
            line = self._stream.readline()
            with self._guard:
                if self._loop is None or self._lines is None:
                    self._early.append(line)
                else:
                    self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
            if not line:  # end of input
                return

    async def next(self) -> str:
        """The next line ("" at the end of input)."""
        with self._guard:
            if self._lines is None:
                self._loop = asyncio.get_running_loop()
                self._lines = asyncio.Queue()
                for line in self._early:
                    self._lines.put_nowait(line)
                self._early.clear()
        return await self._lines.get()


async def _read_stdin() -> str:
    return await asyncio.to_thread(sys.stdin.readline)


class TerminalChannel:
    def __init__(
        self,
        turns: Turns,
        conversations: ConversationStore,
        identity: Identity,
        conversation: str,
        write: Callable[[str], None] = print,
        read: Callable[[], Awaitable[str]] = _read_stdin,
    ) -> None:
        self.turns = turns
        self.read = read
        self.conversations = conversations
        self.identity = identity
        self.key = conversation
        self.write = write
        self.actions: list[str] = []
        self.seen = 0

    async def say(self, text: str) -> list[Reply]:
        """One line typed by the user; a bare number picks an offered option."""
        stripped = text.strip()
        action = None
        if stripped.isdigit() and 0 < int(stripped) <= len(self.actions):
            action, stripped = self.actions[int(stripped) - 1], ""
        replies = await self.turns.handle(
            IncomingMessage("terminal", self.key, self.identity, stripped, action)
        )
        self.actions = []
        for reply in replies:
            shown, actions = render(reply)
            self.actions.extend(actions)
            self.write(shown)
        await self._mark_seen()
        return replies

    async def _mark_seen(self) -> None:
        conversation = await asyncio.to_thread(self.conversations.find, "terminal", self.key)
        if conversation is not None:
            rows = await asyncio.to_thread(self.conversations.messages, conversation.id, self.seen)
            if rows:
                self.seen = rows[-1].id

    async def show_new(self) -> None:
        """Print what a person (or the core) wrote since we last looked."""
        conversation = await asyncio.to_thread(self.conversations.find, "terminal", self.key)
        if conversation is None:
            return
        for row in await asyncio.to_thread(self.conversations.messages, conversation.id, self.seen):
            self.seen = row.id
            reply = row.reply()
            if row.role in ("agent", "system") and reply is not None:
                shown, actions = render(reply)
                self.actions = actions or self.actions
                self.write(shown)

    def command(self, line: str) -> bool:
        """A line starting with "/" is a command for the terminal, never sent to deskbot (nor
        to a person on an open request). Returns False when the user leaves."""
        name = line.strip().split()[0].lower()
        if name in terminal_wording.QUIT:
            return False
        if name == "/help":
            self.write(terminal_wording.HELP)
        elif name == "/new":
            self.key, self.actions, self.seen = str(uuid.uuid4()), [], 0
            self.write(terminal_wording.NEW)
        else:
            self.write(terminal_wording.UNKNOWN_COMMAND.format(command=name))
        return True

    async def run(self, greet: bool = True) -> None:
        """Until the end of input or /quit; `greet=False` when the prompt was shown already."""
        if greet:
            self.write(terminal_wording.GREETING)
        watcher = asyncio.create_task(self._watch())
        try:
            while True:
                line = await self.read()
                if not line or line.strip() in terminal_wording.QUIT:
                    return
                if line.strip().startswith("/"):
                    if not self.command(line):
                        return
                elif line.strip():
                    await self.say(line)
        finally:
            watcher.cancel()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(2)
            await self.show_new()
