"""`deskbot serve`, `deskbot demo` and `deskbot chat`."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import uuid
from collections.abc import Iterator
from typing import Annotated

import typer

from bot import demo_data
from bot.cli.common import app, err, fail_line, out, settings, setup_logging
from bot.cli.preflight import Problem, check_channels, check_database, check_listen, port_number
from bot.db import SchemaState
from bot.dialogue.messages import Identity
from bot.wiring import Runtime, build, itsm_attached, prepare_knowledge, serve


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[str, typer.Option(help="Port to listen on.", metavar="PORT")] = "8080",
    import_kb: Annotated[
        bool, typer.Option("--import-kb/--no-import-kb", help="Import DESKBOT_KB_PATH at start.")
    ] = False,
) -> None:
    """Run the server: web chat at /chat, plus the configured channels. The database must be
    migrated first (`deskbot migrate`)."""
    config = settings()
    with problems_said():
        number = port_number(port)
        check_listen(host, number)
        check_channels(config)
        status = check_database(config)
    if status.state is SchemaState.AHEAD:
        fail_line(f"warning: {status.describe()}")
    setup_logging(logging.INFO)
    runtime = build(config, host=host, migrate_schema=False)
    prepare_knowledge(runtime.settings, runtime.services, import_path=import_kb)
    out.print(f"deskbot is listening on http://{host}:{number}/chat")
    with problems_said():
        run_server(runtime, host, number)


@app.command("demo")
def demo_command(
    port: Annotated[
        str, typer.Option(help="Port to listen on (always on 127.0.0.1).", metavar="PORT")
    ] = "8080",
) -> None:
    """The local demo: demo knowledge base, employees and requests, web chat on 127.0.0.1."""
    config = settings()
    with problems_said():
        number = port_number(port)
        check_listen("127.0.0.1", number)
        check_channels(config)
        check_database(config, migrate_if_behind=True)  # the demo's own database
    setup_logging(logging.INFO)
    runtime = build(config, demo=True)
    out.print("Preparing the demo knowledge base (the first run embeds every article)…")
    prepare_knowledge(config, runtime.services, import_path=True)
    created = demo_data.seed_tickets(runtime.services.tickets)
    out.print(
        f"{len(runtime.services.knowledge.index)} articles ready; {created} demo requests added."
    )
    out.print(f"\n[bold]Open http://127.0.0.1:{number}/chat[/bold] and pick a demo employee.")
    from bot.console.accounts import AccountStore, demo_accounts

    out.print(f"Console: [bold]http://127.0.0.1:{number}/console[/bold], sign in as")
    for name, role, password in demo_accounts(AccountStore(runtime.services.tickets.engine)):
        out.print(f"  {role}: name [bold]{name}[/bold], password [bold]{password}[/bold]")
    with problems_said():
        run_server(runtime, "127.0.0.1", number)


@contextlib.contextmanager
def problems_said() -> Iterator[None]:
    """A deployment problem as one line on stderr and a non-zero exit, never a traceback."""
    try:
        yield
    except Problem as problem:
        fail_line(problem.message)
        raise typer.Exit(problem.code) from None


def run_server(runtime: Runtime, host: str, port: int) -> None:
    """Serve until stopped. The port was free a moment ago; if another process took it since,
    say so in one line as well."""
    try:
        asyncio.run(serve(runtime, host, port))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise Problem(f"cannot listen on {host}:{port}: the port is already in use", 1) from None


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
