"""`deskbot serve`, `deskbot demo` and `deskbot chat`."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import app, err, fail_line, out, plain, settings, setup_logging
from bot.cli.preflight import Problem, check_channels, check_database, check_listen, port_number
from bot.db import SchemaState

if TYPE_CHECKING:
    from bot.dialogue.messages import Identity
    from bot.settings import Settings
    from bot.wiring import Runtime
    from handoff.tickets import TicketStore
    from retrieval.knowledge import KnowledgeBase

# The server and the model are imported by the commands themselves: `deskbot --help` and the
# commands that need neither start without them.


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
    from bot.wiring import build, prepare_knowledge

    setup_logging(logging.INFO)
    runtime = build(config, host=host, migrate_schema=False)
    prepare_knowledge(runtime.settings, runtime.services, import_path=import_kb)
    out.print(f"deskbot is listening on http://{host}:{number}/chat")
    with problems_said():
        run_server(runtime, host, number)


@app.command("demo")
def demo_command(
    port: Annotated[
        str,
        typer.Option(
            help="Port to listen on (always on 127.0.0.1); `make run PORT=...`.", metavar="PORT"
        ),
    ] = "8080",
) -> None:
    """The local demo: demo knowledge base, employees and requests, web chat on 127.0.0.1."""
    config = settings()
    with problems_said():
        number = port_number(port)
        check_listen("127.0.0.1", number)
        check_channels(config)
        check_database(config, migrate_if_behind=True)  # the demo's own database
    from bot.console.accounts import AccountStore, demo_accounts
    from bot.wiring import database

    # where to go and how to sign in come first; the start-up logs follow
    accounts = demo_accounts(AccountStore(database(config)))
    base = f"http://127.0.0.1:{number}"
    out.print(f"deskbot demo on {base}", style="bold")
    out.print(f"  web chat: {base}/chat (pick a demo employee)")
    out.print(f"  console:  {base}/console, sign in as")
    for name, role, password in accounts:
        out.print(f"    {role}: name {name}, password {password}")
    out.print("  (the passwords stay the same across restarts; they are kept in the database)")
    setup_logging(logging.INFO)
    runtime = prepare_demo(config)
    with problems_said():
        run_server(runtime, "127.0.0.1", number, base)


def prepare_demo(config: Settings, **build_options: object) -> Runtime:
    """The demo's server with its knowledge base and requests in place. On a database that
    has them already nothing is embedded: articles and router are keyed by content."""
    from bot import demo_data
    from bot.wiring import build, prepare_knowledge

    runtime = build(config, demo=True, **build_options)  # type: ignore[arg-type]
    out.print("Preparing the demo knowledge base (the first run embeds every article)…")
    prepare_knowledge(config, runtime.services, import_path=True)
    created = demo_data.seed_tickets(runtime.services.tickets)
    out.print(f"{article_counts(runtime.services.knowledge)}; {created} demo requests added.")
    return runtime


def article_counts(kb: KnowledgeBase) -> str:
    """How many articles answer, and why the others do not (drafts, retired, review due)."""
    from retrieval.articles import Status

    excluded = kb.excluded()
    reasons = Counter(
        "retired"
        if a.status is Status.RETIRED
        else "draft"
        if a.status is Status.DRAFT
        else "past review date"
        for a, _ in excluded
    )
    text = f"{len(kb.articles())} articles, {len(kb.articles()) - len(excluded)} answer"
    if reasons:
        text += " (not: " + ", ".join(f"{n} {why}" for why, n in sorted(reasons.items())) + ")"
    return text


@contextlib.contextmanager
def problems_said() -> Iterator[None]:
    """A deployment problem as one line on stderr and a non-zero exit, never a traceback."""
    try:
        yield
    except Problem as problem:
        fail_line(problem.message)
        raise typer.Exit(problem.code) from None


def run_server(runtime: Runtime, host: str, port: int, announce: str | None = None) -> None:
    """Serve until stopped. The port was free a moment ago; if another process took it since,
    say so in one line as well. `announce` is the base URL the demo prints once it is ready."""
    from bot.wiring import serve

    async def main() -> None:
        ready = asyncio.Event()
        server = asyncio.create_task(serve(runtime, host, port, ready, signals=True))
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({server, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set() and announce:
            out.print(f"Ready: open {announce}/chat (Ctrl+C stops the demo)", style="bold")
        elif not ready.is_set():
            waiting.cancel()
        await server

    try:
        asyncio.run(main())
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
    from bot.channels.terminal import wording as terminal_wording
    from bot.channels.terminal.channel import Lines, TerminalChannel

    setup_logging(logging.WARNING)
    config = settings()
    # The prompt first: the first question is typed while deskbot loads, and answered as soon
    # as it is ready.
    lines = Lines.from_stdin()
    out.print(plain(terminal_wording.GREETING), soft_wrap=True)

    def load() -> Runtime:
        from bot.wiring import build, prepare_knowledge

        runtime = build(config)
        prepare_knowledge(runtime.settings, runtime.services, import_path=False)
        return runtime

    async def main() -> None:
        from bot.wiring import itsm_attached

        runtime = await asyncio.to_thread(load)
        identity, known = terminal_identity(as_email, runtime.services.tickets)
        if identity.email is None:
            err.print(terminal_wording.GUEST)
        elif not known:
            unknown = terminal_wording.UNKNOWN_USER.format(email=identity.email)
            err.print(plain(unknown), style="yellow")
        else:
            who = identity.name or identity.email
            err.print(plain(terminal_wording.KNOWN_USER.format(name=who, email=identity.email)))
        chat = TerminalChannel(
            runtime.turns,
            runtime.services.conversations,
            identity,
            str(uuid.uuid4()),
            write=lambda text: out.print(plain(text), soft_wrap=True),
            read=lines.next,
        )
        async with itsm_attached(runtime.itsm):  # status questions read the ticket system
            await chat.run(greet=False)

    try:
        asyncio.run(main())
    except SystemExit as exc:  # the knowledge base could not be loaded: say why
        err.print(str(exc.code), highlight=False, markup=False)
        raise typer.Exit(1) from None


def terminal_identity(email: str | None, tickets: TicketStore) -> tuple[Identity, bool]:
    """Who `--as` names, and whether deskbot knows them: a demo employee or someone with
    requests on record (their name is what agents see on tickets). Anyone else chats as a
    guest under the address given."""
    from bot import demo_data
    from bot.dialogue.messages import Identity

    if not email:
        return Identity("terminal-user"), False
    email = email.strip().lower()
    names = {u.email.lower(): u.name for u in demo_data.users()}
    requests = tickets.of_requester(email)
    name = names.get(email) or next((t.requester_name for t in requests if t.requester_name), None)
    return Identity(email, email, name), bool(name or requests)
