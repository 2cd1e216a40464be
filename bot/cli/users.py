"""Console accounts: `deskbot user add|list|disable|enable`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from bot.cli.common import app, err, out, plain, settings, setup_logging
from bot.console.accounts import AccountError, AccountStore, Role

user_app = typer.Typer(no_args_is_help=True, help="Manage console accounts.")
app.add_typer(user_app, name="user")


def accounts() -> AccountStore:
    from bot import wiring

    return AccountStore(wiring.database(settings()))


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Sign-in name, e.g. dana or dana@example.com.")],
    role: Annotated[Role, typer.Option(help="What the account may do in the console.")],
    full_name: Annotated[
        str | None, typer.Option(help="Shown to employees when this agent replies.")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="Matches the owner field of the articles this person owns.")
    ] = None,
) -> None:
    """Add an account; the password is asked for (twice) and stored as an argon2id hash."""
    setup_logging()
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        account = accounts().add(name, role, password, full_name=full_name, email=email)
    except AccountError as exc:
        err.print(plain(exc), style="red")
        raise typer.Exit(1) from None
    out.print(f"added {plain(account.name)} ({account.role.value})")


@user_app.command("list")
def user_list() -> None:
    """List the accounts (never their passwords)."""
    setup_logging()
    table = Table("name", "role", "full name", "e-mail", "status", "last sign-in")
    for a in accounts().all():
        table.add_row(
            plain(a.name),
            a.role.value,
            plain(a.full_name or ""),
            plain(a.email or ""),
            "disabled" if a.disabled else "active",
            a.signed_in_at.strftime("%Y-%m-%d %H:%M") if a.signed_in_at else "never",
        )
    out.print(table)


def _set_disabled(name: str, disabled: bool) -> None:
    setup_logging()
    store = accounts()
    try:
        account = store.set_disabled(name, disabled)
    except AccountError as exc:
        err.print(plain(exc), style="red")
        raise typer.Exit(1) from None
    ended = 0
    if disabled:
        from bot.console.sessions import SessionStore

        ended = SessionStore(store.engine).end_all(account.id)
    state = "disabled" if disabled else "enabled"
    out.print(f"{plain(account.name)} {state}" + (f"; {ended} session(s) ended" if ended else ""))


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="The account to disable.")]) -> None:
    """Disable an account and end its sessions at once."""
    _set_disabled(name, True)


@user_app.command("enable")
def user_enable(name: Annotated[str, typer.Argument(help="The account to enable.")]) -> None:
    """Enable a disabled account again."""
    _set_disabled(name, False)
