"""Console accounts: local users with argon2id-hashed passwords and one role each.

Passwords are never stored or logged; verifying an unknown name still spends the time of a
hash check, so response times do not tell which names exist.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from bot.console.tables import accounts_table
from bot.db import aware

MIN_PASSWORD = 12
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")


class Role(StrEnum):
    AGENT = "agent"
    KNOWLEDGE_OWNER = "knowledge_owner"
    ADMIN = "admin"


# Who may do what: the route table and the navigation both use these.
AGENTS = frozenset({Role.AGENT, Role.ADMIN})
OWNERS = frozenset({Role.KNOWLEDGE_OWNER, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})
EVERYONE = frozenset(Role)


class AccountError(ValueError):
    """A request about accounts that cannot be carried out; the message says why."""


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    full_name: str | None
    email: str | None
    role: Role
    disabled: bool
    created_at: datetime
    signed_in_at: datetime | None

    @property
    def display(self) -> str:
        """How the account is named to others (agents' names are shown to employees)."""
        return self.full_name or self.name

    @property
    def owner_label(self) -> str:
        """The article `owner` value for articles this account starts."""
        if self.email:
            return f"{self.display} <{self.email}>"
        return self.display

    def owns(self, owner: str) -> bool:
        """Whether an article's owner field names this account (by e-mail or by name)."""
        text = owner.lower()
        if self.email and self.email.lower() in text:
            return True
        name = text.split("<", 1)[0].strip()
        return name in {self.name, self.display.lower()}


def _account(row: Row[Any]) -> Account:
    m = row._mapping
    signed_in = m["signed_in_at"]
    return Account(
        id=m["id"],
        name=m["name"],
        full_name=m["full_name"],
        email=m["email"],
        role=Role(m["role"]),
        disabled=bool(m["disabled"]),
        created_at=aware(m["created_at"]),
        signed_in_at=aware(signed_in) if signed_in is not None else None,
    )


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")


class AccountStore:
    def __init__(
        self,
        engine: Engine,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._dummy = self.hasher.hash("not a password of anyone")

    def add(
        self,
        name: str,
        role: Role,
        password: str,
        full_name: str | None = None,
        email: str | None = None,
    ) -> Account:
        name = name.strip().lower()
        if not NAME_PATTERN.match(name):
            raise AccountError("a name is 2-64 lower-case letters, digits, '.', '_', '@' or '-'")
        check_password(password)
        values = {
            "name": name,
            "full_name": (full_name or "").strip() or None,
            "email": (email or "").strip().lower() or None,
            "role": role.value,
            "password_hash": self.hasher.hash(password),
            "disabled": False,
            "created_at": self._clock(),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(accounts_table).values(values))
        except IntegrityError:
            raise AccountError(f"an account named '{name}' already exists") from None
        found = self.by_name(name)
        assert found is not None
        return found

    def by_name(self, name: str) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(accounts_table).where(accounts_table.c.name == name.strip().lower())
            ).first()
        return _account(row) if row is not None else None

    def get(self, account_id: int) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(accounts_table).where(accounts_table.c.id == account_id)
            ).first()
        return _account(row) if row is not None else None

    def all(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(accounts_table).order_by(accounts_table.c.name))
            return [_account(r) for r in rows]

    def set_disabled(self, name: str, disabled: bool) -> Account:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(accounts_table)
                .where(accounts_table.c.name == name.strip().lower())
                .values(disabled=disabled)
            )
        found = self.by_name(name)
        if result.rowcount != 1 or found is None:
            raise AccountError(f"no account named '{name}'")
        return found

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        with self.engine.begin() as conn:
            result = conn.execute(
                update(accounts_table)
                .where(accounts_table.c.name == name.strip().lower())
                .values(password_hash=self.hasher.hash(password))
            )
        if result.rowcount != 1:
            raise AccountError(f"no account named '{name}'")

    def verify(self, name: str, password: str) -> Account | None:
        """The enabled account with this name and password, or None. Slow on purpose."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(accounts_table).where(accounts_table.c.name == name.strip().lower())
            ).first()
        stored = row._mapping["password_hash"] if row is not None else self._dummy
        try:
            self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        account = _account(row)
        if account.disabled:
            return None
        values: dict[str, Any] = {"signed_in_at": self._clock()}
        if self.hasher.check_needs_rehash(stored):
            values["password_hash"] = self.hasher.hash(password)
        with self.engine.begin() as conn:
            conn.execute(
                update(accounts_table).where(accounts_table.c.id == account.id).values(values)
            )
        return account


# (name, role, full name, e-mail): the accounts `deskbot demo` signs in with. The knowledge
# owner owns two demo articles, so "my articles due for review" has something to show.
DEMO_ACCOUNTS = (
    ("demo-agent", Role.AGENT, "Dana Whitfield", "dana.whitfield@example.com"),
    ("demo-owner", Role.KNOWLEDGE_OWNER, "Priya Natarajan", "priya.natarajan@example.com"),
)


def demo_accounts(store: AccountStore) -> list[tuple[str, str, str]]:
    """Create (or re-enable) the demo accounts: (name, role, password) to print. Each
    database gets its own random passwords, kept with its other shared secrets so they stay
    the same across restarts; never a shared default."""
    from bot.dialogue.conversations import shared_secret

    out = []
    for name, role, full_name, email in DEMO_ACCOUNTS:
        password = shared_secret(
            store.engine, f"demo_password:{name}", lambda: secrets.token_urlsafe(12)
        )
        if store.by_name(name) is None:
            store.add(name, role, password, full_name=full_name, email=email)
        else:
            store.set_password(name, password)
            store.set_disabled(name, False)
        out.append((name, role.value, password))
    return out
