"""The spool: with the database unreachable, a message is kept on disk (redacted) instead of
lost, and the employee gets an apology, never an error; when the server starts again the kept
message goes into the database as a hand-off to a person, once."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

import pytest

from bot import wiring
from bot.dialogue.messages import Identity, IncomingMessage, Reply
from bot.settings import DEMO_KB_PATH, Settings
from retrieval.embedding import HashEmbedder
from tests.clock import CLOCK

SECRET = "Tr0ub4dor&3xyz"
ALEX = Identity("u-alex", "alex.morgan@example.com", "Alex Morgan")


def runtime_on(database: Path, spool: Path) -> wiring.Runtime:
    settings = Settings(  # type: ignore[call-arg]
        DESKBOT_DATABASE_URL=f"sqlite:///{database}",
        DESKBOT_KB_PATH=DEMO_KB_PATH,
        DESKBOT_SPOOL_FILE=spool,
    )
    runtime = wiring.build(settings, embedder=HashEmbedder(), background=False, today=CLOCK.today)
    wiring.prepare_knowledge(settings, runtime.services, import_path=False)
    return runtime


async def start_and_stop(runtime: wiring.Runtime) -> None:
    """`deskbot serve` as far as it is ready, then stopped; then the inbox works off what
    the replay put in it (its background loop's job in a running server)."""
    ready = asyncio.Event()
    task = asyncio.create_task(wiring.serve(runtime, "127.0.0.1", 0, ready))
    await asyncio.wait_for(ready.wait(), 60)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    inbox = runtime.services.inbox
    for entry in inbox.claim_due():
        inbox.spawn(entry)
    assert await inbox.idle(60)


async def kept_while_down(
    demo_template: Path, tmp_path: Path, text: str
) -> tuple[wiring.Runtime, Path, list[Reply]]:
    """A server whose database goes away while `text` arrives, then comes back."""
    folder, away = tmp_path / "db", tmp_path / "away"
    folder.mkdir()
    shutil.copy(demo_template, folder / "deskbot.db")
    spool = tmp_path / "spool.jsonl"
    runtime = runtime_on(folder / "deskbot.db", spool)
    engine = runtime.services.conversations.engine
    folder.rename(away)  # the database is gone
    engine.dispose()
    replies = await runtime.turns.handle(IncomingMessage("web", "c-1", ALEX, text))
    away.rename(folder)
    engine.dispose()
    return runtime, spool, replies


async def test_a_message_kept_while_the_database_was_down_becomes_a_handoff(
    demo_template: Path, tmp_path: Path
) -> None:
    text = f"my password {SECRET} stopped working and the vpn fails with 809"
    runtime, spool, replies = await kept_while_down(demo_template, tmp_path, text)
    engine = runtime.services.conversations.engine
    assert len(replies) == 1 and "sorry" in replies[0].text.lower()
    assert "Error" not in replies[0].text and "Traceback" not in replies[0].text
    kept = spool.read_text(encoding="utf-8")
    assert "809" in kept and SECRET not in kept and "[redacted" in kept

    await start_and_stop(runtime)  # the database is back; the server starts again
    assert not spool.exists() or spool.read_text(encoding="utf-8").strip() == ""
    found = runtime.services.conversations.find("web", "c-1")
    assert found is not None and found.ticket_id is not None
    ticket = runtime.services.tickets.get(found.ticket_id)
    assert ticket is not None and ticket.status.value == "new"
    stored = " ".join(m.text for m in runtime.services.conversations.messages(found.id)) + str(
        ticket.transcript
    )
    assert "809" in stored and SECRET not in stored
    tickets_before = len(runtime.services.tickets.queue())

    await start_and_stop(runtime)  # replayed once only
    assert len(runtime.services.tickets.queue()) == tickets_before
    engine.dispose()


@pytest.mark.xfail(
    reason="the replay runs the kept message through the policy as a new turn from an unknown "
    "user: a question the assistant can answer is answered to nobody and no person sees it"
)
async def test_a_kept_question_the_assistant_could_answer_still_reaches_a_person(
    demo_template: Path, tmp_path: Path
) -> None:
    runtime, _, _ = await kept_while_down(demo_template, tmp_path, "how can I use the VPN at home")
    await start_and_stop(runtime)
    found = runtime.services.conversations.find("web", "c-1")
    runtime.services.conversations.engine.dispose()
    assert found is not None and found.ticket_id is not None
