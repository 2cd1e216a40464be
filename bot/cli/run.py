"""`deskbot serve`, `deskbot demo` and `deskbot chat`."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import app, err, out, settings, setup_logging

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.wiring import Runtime

# The server and the model are imported by the commands themselves: `deskbot --help` and the
# commands that need neither start without them.


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    import_kb: Annotated[
        bool, typer.Option("--import-kb/--no-import-kb", help="Import DESKBOT_KB_PATH at start.")
    ] = False,
) -> None:
    """Run the server: web chat at /chat, plus the configured channels."""
    from bot.wiring import build, prepare_knowledge, serve

    setup_logging(logging.INFO)
    runtime = build(settings(), host=host)
    prepare_knowledge(runtime.settings, runtime.services, import_path=import_kb)
    out.print(f"deskbot is listening on http://{host}:{port}/chat")
    asyncio.run(serve(runtime, host, port))


@app.command("demo")
def demo_command(
    port: Annotated[int, typer.Option(help="Port to listen on (always on 127.0.0.1).")] = 8080,
) -> None:
    """The local demo: demo knowledge base, employees and requests, web chat on 127.0.0.1."""
    from bot.wiring import serve

    setup_logging(logging.INFO)
    runtime = prepare_demo(settings())
    out.print(f"\n[bold]Open http://127.0.0.1:{port}/chat[/bold] and pick a demo employee.")
    from bot.console.accounts import AccountStore, demo_accounts

    out.print(f"Console: [bold]http://127.0.0.1:{port}/console[/bold], sign in as")
    for name, role, password in demo_accounts(AccountStore(runtime.services.tickets.engine)):
        out.print(f"  {role}: name [bold]{name}[/bold], password [bold]{password}[/bold]")
    asyncio.run(serve(runtime, "127.0.0.1", port))


def prepare_demo(config: Settings, **build_options: object) -> Runtime:
    """The demo's server with its knowledge base and requests in place. On a database that
    has them already nothing is embedded: articles and router are keyed by content."""
    from bot import demo_data
    from bot.wiring import build, prepare_knowledge

    runtime = build(config, demo=True, **build_options)  # type: ignore[arg-type]
    out.print("Preparing the demo knowledge base (the first run embeds every article)…")
    prepare_knowledge(config, runtime.services, import_path=True)
    created = demo_data.seed_tickets(runtime.services.tickets)
    out.print(
        f"{len(runtime.services.knowledge.index)} articles ready; {created} demo requests added."
    )
    return runtime


@app.command("chat")
def chat_command(
    as_email: Annotated[
        str | None, typer.Option("--as", help="Chat as this e-mail address (for request status).")
    ] = None,
) -> None:
    """Chat with deskbot in the terminal (the same core as every channel)."""
    from bot.channels.terminal.channel import Lines, TerminalChannel
    from bot.channels.terminal.wording import GREETING

    setup_logging(logging.WARNING)
    config = settings()
    # The prompt first: the first question is typed while deskbot loads, and answered as soon
    # as it is ready.
    lines = Lines.from_stdin()
    print(GREETING, flush=True)

    def load() -> Runtime:
        from bot.wiring import build, prepare_knowledge

        runtime = build(config)
        prepare_knowledge(runtime.settings, runtime.services, import_path=False)
        return runtime

    async def main() -> None:
        from bot.dialogue.messages import Identity
        from bot.wiring import itsm_attached

        runtime = await asyncio.to_thread(load)
        identity = Identity(as_email or "terminal-user", as_email, None)
        chat = TerminalChannel(
            runtime.turns,
            runtime.services.conversations,
            identity,
            str(uuid.uuid4()),
            read=lines.next,
        )
        async with itsm_attached(runtime.itsm):  # status questions read the ticket system
            await chat.run(greet=False)

    try:
        asyncio.run(main())
    except SystemExit as exc:  # the knowledge base could not be loaded: say why
        err.print(str(exc.code), highlight=False, markup=False)
        raise typer.Exit(1) from None
