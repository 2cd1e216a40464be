"""`deskbot serve`, `deskbot demo` and `deskbot chat`."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Annotated

import typer

from bot import demo_data
from bot.cli.common import app, err, out, settings, setup_logging
from bot.dialogue.messages import Identity
from bot.wiring import build, itsm_attached, prepare_knowledge, serve


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    import_kb: Annotated[
        bool, typer.Option("--import-kb/--no-import-kb", help="Import DESKBOT_KB_PATH at start.")
    ] = False,
) -> None:
    """Run the server: web chat at /chat, plus the configured channels."""
    setup_logging(logging.INFO)
    runtime = build(settings(), host=host)
    prepare_knowledge(runtime.settings, runtime.services, import_path=import_kb)
    out.print(f"deskbot is listening on http://{host}:{port}/chat")
    asyncio.run(serve(runtime, host, port, signals=True))


@app.command("demo")
def demo_command(
    port: Annotated[int, typer.Option(help="Port to listen on (always on 127.0.0.1).")] = 8080,
) -> None:
    """The local demo: demo knowledge base, employees and requests, web chat on 127.0.0.1."""
    setup_logging(logging.INFO)
    config = settings()
    runtime = build(config, demo=True)
    out.print("Preparing the demo knowledge base (the first run embeds every article)…")
    prepare_knowledge(config, runtime.services, import_path=True)
    created = demo_data.seed_tickets(runtime.services.tickets)
    out.print(
        f"{len(runtime.services.knowledge.index)} articles ready; {created} demo requests added."
    )
    out.print(f"\n[bold]Open http://127.0.0.1:{port}/chat[/bold] and pick a demo employee.")
    from bot.console.accounts import AccountStore, demo_accounts

    out.print(f"Console: [bold]http://127.0.0.1:{port}/console[/bold], sign in as")
    for name, role, password in demo_accounts(AccountStore(runtime.services.tickets.engine)):
        out.print(f"  {role}: name [bold]{name}[/bold], password [bold]{password}[/bold]")
    asyncio.run(serve(runtime, "127.0.0.1", port, signals=True))


@app.command("chat")
def chat_command(
    as_email: Annotated[
        str | None, typer.Option("--as", help="Chat as this e-mail address (for request status).")
    ] = None,
) -> None:
    """Chat with deskbot in the terminal (the same core as every channel)."""
    setup_logging(logging.WARNING)
    runtime = build(settings())
    err.print("Loading…")
    prepare_knowledge(runtime.settings, runtime.services, import_path=False)
    from bot.channels.terminal.channel import TerminalChannel

    identity = Identity(as_email or "terminal-user", as_email, None)
    chat = TerminalChannel(
        runtime.turns, runtime.services.conversations, identity, str(uuid.uuid4())
    )

    async def main() -> None:
        async with itsm_attached(runtime.itsm):  # status questions read the ticket system
            await chat.run()

    asyncio.run(main())
