"""`deskbot itsm check`: can deskbot work with the configured ticket system, and if not, why."""

from __future__ import annotations

import asyncio
from functools import partial

import typer

from bot.cli.common import app, err, out, setup_logging

itsm_app = typer.Typer(no_args_is_help=True, help="The ticket system (DESKBOT_TICKETS).")
app.add_typer(itsm_app, name="itsm")


@itsm_app.command("check")
def check_command() -> None:
    """Sign in to the configured ticket system and try every right deskbot needs. Exits 1 when
    something is wrong, 2 when the settings are not usable; never prints a password or token."""
    setup_logging()

    from pydantic import ValidationError

    from bot.db import make_engine
    from bot.itsm.connection import ticket_system
    from bot.settings import Settings
    from handoff.itsm.check import Report, check
    from handoff.itsm.port import TicketSystem
    from handoff.itsm.systems import builtin
    from handoff.tickets import TicketStore

    say = partial(out.print, soft_wrap=True, highlight=False, markup=False)
    warn = partial(err.print, soft_wrap=True, highlight=False, markup=False)
    try:
        config = Settings()
    except ValidationError as exc:  # the messages name the variables, never their values
        for error in exc.errors():
            warn(str(error["msg"]).removeprefix("Value error, "))
        raise typer.Exit(2) from None
    engine = make_engine(config.database_url) if config.tickets == "builtin" else None
    system = ticket_system(config) or builtin(TicketStore(engine))  # type: ignore[arg-type]

    async def run(system: TicketSystem) -> Report:
        try:
            return await check(system)
        finally:
            await system.close()

    try:
        report = asyncio.run(run(system))
    finally:
        if engine is not None:
            engine.dispose()
    for line in report.lines():
        say(line)
    if not report.ok:
        raise typer.Exit(1)
