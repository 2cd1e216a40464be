"""`deskbot migrate`: bring the schema up to date, safely when several replicas run it at once."""

from __future__ import annotations

from functools import partial

import typer

from bot.cli.common import app, err, out, settings, setup_logging


@app.command("migrate")
def migrate_command() -> None:
    """Bring the database schema up to date (safe when several replicas run it at once)."""
    setup_logging()

    from sqlalchemy.exc import ArgumentError, OperationalError

    from bot.db import SchemaState, make_engine, migrate

    # printed as is: URLs and revision ids are neither wrapped nor highlighted
    say = partial(out.print, soft_wrap=True, highlight=False, markup=False)
    warn = partial(err.print, soft_wrap=True, highlight=False, markup=False)
    try:
        engine = make_engine(settings().database_url)
    except (ArgumentError, ValueError) as exc:
        warn(f"DESKBOT_DATABASE_URL is not a valid database URL: {exc}")
        raise typer.Exit(2) from None
    shown = engine.url.render_as_string(hide_password=True)
    try:
        done = migrate(engine)
    except OperationalError as exc:
        warn(f"cannot reach the database {shown}: {str(exc.orig or exc).strip().splitlines()[0]}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if done.waited:
        say("another process was migrating: waited for it to finish")
    if done.before.state is SchemaState.AHEAD:
        warn(f"{shown}: nothing migrated, {done.before.describe()}")
        return
    before = ", ".join(done.before.database) or "an empty database"
    outcome = f"migrated from {before} to" if done.applied else "nothing to do, already at"
    say(f"{shown}: {outcome} {', '.join(done.after.database)}")
