"""What `deskbot serve` and `deskbot demo` check before they load the model: every mistake a
deployment can make that would otherwise surface as a traceback half a minute later, said in
one line that names the setting or the option to fix."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from bot.db import SchemaState, SchemaStatus, migrate, normalize_url, schema_status
from bot.settings import Settings

# How long to wait for the database to answer before saying it is unreachable.
CONNECT_SECONDS = 10


class Problem(Exception):
    """A deployment mistake, worded for the operator; `code` is the process's exit status
    (2 for a wrong setting or option, 1 for something outside deskbot)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def port_number(value: str) -> int:
    """The --port option: a whole number from 1 to 65535."""
    try:
        port = int(value.strip())
    except ValueError:
        raise Problem(f"--port must be a number from 1 to 65535, not {value!r}") from None
    if not 1 <= port <= 65535:
        raise Problem(f"--port must be a number from 1 to 65535, not {port}")
    return port


def check_listen(host: str, port: int) -> None:
    """Bind the address the server will listen on, the way aiohttp will (SO_REUSEADDR), and
    let go: a port in use or an address this machine does not have fails here, in one line,
    rather than after the model has loaded."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        message = f"--host {host!r} is not an address or a name this machine can resolve"
        raise Problem(message) from None
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                raise Problem(_bind_failure(host, port, exc)) from None


def _bind_failure(host: str, port: int, exc: OSError) -> str:
    where = f"cannot listen on {host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: the port is already in use (another deskbot?); choose another --port"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{where}: permission denied (ports below 1024 need privileges); use --port 8080"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: this machine has no such address; use --host 127.0.0.1 or 0.0.0.0"
    return f"{where}: {exc.strerror or exc}"


def check_channels(settings: Settings) -> None:
    """A channel configured by half: some of its secrets set, not all it needs. Without this
    the server starts without the channel and the log line that says why scrolls by."""
    slack = {
        "SLACK_BOT_TOKEN": _given(settings.slack_bot_token),
        "SLACK_SIGNING_SECRET": _given(settings.slack_signing_secret),
        "SLACK_APP_TOKEN": _given(settings.slack_app_token),
    }
    if slack["SLACK_BOT_TOKEN"] and not (slack["SLACK_SIGNING_SECRET"] or slack["SLACK_APP_TOKEN"]):
        raise Problem(
            "Slack: SLACK_BOT_TOKEN is set without SLACK_SIGNING_SECRET (events over HTTP) "
            "or SLACK_APP_TOKEN (Socket Mode); set one of them"
        )
    if not slack["SLACK_BOT_TOKEN"] and (slack["SLACK_SIGNING_SECRET"] or slack["SLACK_APP_TOKEN"]):
        named = " and ".join(name for name, given in slack.items() if given)
        raise Problem(f"Slack: {named} set without SLACK_BOT_TOKEN; set it too")
    app_id = settings.microsoft_app_id.strip()
    password = _given(settings.microsoft_app_password)
    kind = settings.microsoft_app_type.strip().lower()
    if not app_id:
        if password or settings.microsoft_app_tenant_id.strip():
            raise Problem(
                "Teams: MicrosoftAppPassword or MicrosoftAppTenantId set without "
                "MicrosoftAppId; set the app id too"
            )
        return
    if kind not in ("multitenant", "singletenant"):
        raise Problem(
            f"Teams: MicrosoftAppType must be MultiTenant or SingleTenant, "
            f"not {settings.microsoft_app_type!r}"
        )
    if not password:
        raise Problem("Teams: MicrosoftAppId is set without MicrosoftAppPassword; set it too")
    if kind == "singletenant" and not settings.microsoft_app_tenant_id.strip():
        raise Problem("Teams: a SingleTenant app needs MicrosoftAppTenantId")


def check_database(settings: Settings, *, migrate_if_behind: bool = False) -> SchemaStatus:
    """The database URL parses, the database answers, and its schema is not behind (for the
    demo, it is brought up to date here). A schema a newer version migrated is served: its
    migrations are backwards compatible for one release (docs/deploy.md)."""
    try:
        url = make_url(normalize_url(settings.database_url))
    except (ArgumentError, ValueError) as exc:
        raise Problem(f"DESKBOT_DATABASE_URL is not a valid database URL: {exc}") from None
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and not migrate_if_behind:
        _sqlite_file_exists(url, shown)
    postgres = url.get_backend_name() == "postgresql"
    connect_args = {"connect_timeout": CONNECT_SECONDS} if postgres else {}
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except (ArgumentError, ValueError, ImportError) as exc:
        raise Problem(f"DESKBOT_DATABASE_URL is not a valid database URL: {exc}") from None
    try:
        status = migrate(engine).after if migrate_if_behind else schema_status(engine)
    except DBAPIError as exc:
        reason = (str(exc.orig or exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise Problem(f"cannot reach the database {shown}: {reason}", code=1) from None
    finally:
        engine.dispose()
    if status.state is SchemaState.BEHIND:
        raise Problem(
            f"{shown}: {status.describe()}; run `deskbot migrate`, then start again", code=1
        )
    return status


def _sqlite_file_exists(url: URL, shown: str) -> None:
    """Opening a SQLite file that is not there creates it: say so rather than serve an empty
    one (`:memory:` and empty names have no file)."""
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    if not in_memory and not Path(database).exists():
        raise Problem(
            f"{shown}: the database file does not exist; run `deskbot migrate` to create it",
            code=1,
        )


def _given(value: object) -> bool:
    secret = getattr(value, "get_secret_value", None)
    text = secret() if secret is not None else value
    return bool(text and str(text).strip())
