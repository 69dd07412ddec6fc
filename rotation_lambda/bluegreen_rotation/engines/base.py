"""The engine seam: what the rotation core asks of a database engine, and nothing engine-specific.

Modelled on Vault's database plugins (one interface, one package per engine, "no behaviour is
switched on the engine's type name"): the core (``steps``, ``guards``, ``mirror``, ``secret``) talks
only to :class:`Engine` and :class:`Admin`; each engine package (``engines.mysql``,
``engines.postgresql``) implements them with its own driver, SQL and profile model. A login refusal
is the typed :class:`LoginDenied` (MySQL 1045, PostgreSQL 28P01), so no caller knows an error code.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bluegreen_db.tls import TlsMode

from ..errors import DatabaseError

__all__ = [
    "AccountState",
    "Admin",
    "Endpoint",
    "Engine",
    "LoginDenied",
    "OwnershipMigration",
    "Profile",
    "SessionFacts",
]


class LoginDenied(DatabaseError):  # noqa: N818 - reads as the event it is: `except LoginDenied`
    """The server refused these credentials (wrong password, unknown user): not an outage of the server.

    Callers branch on this type, never on an engine's error code.
    """


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect: TLS mode and CA, and the timeout bounding connect and every read."""

    host: str
    port: int
    tls_mode: TlsMode = "verify-full"
    ca_file: str | None = None
    timeout: float = 5.0


@runtime_checkable
class Profile(Protocol):
    """Everything about an account that a client could notice, as the engine models it.

    Never holds a password or a password hash/verifier.
    """

    def differences(self, other: Profile, *, mine: str, theirs: str) -> list[str]:
        """Human-readable differences, each naming the property (empty when indistinguishable)."""
        ...


@dataclass(frozen=True)
class AccountState:
    """An existing account and its profile, as read from the server.

    ``user`` is the name the secret holds; ``detail`` is engine-specific identity the core never reads
    (MySQL's host part; PostgreSQL's role OID), kept so the engine need not read it again.
    """

    user: str
    profile: Profile
    detail: object = None


@dataclass(frozen=True)
class SessionFacts:
    """What a live session of a user reports about itself: what a client notices after a flip.

    ``values`` are the engine's probes (MySQL: active roles; PostgreSQL: ``current_user``-normalised
    settings such as ``statement_timeout`` and ``search_path``); ``grants`` are the effective
    privileges the session reports, the own user name replaced so two users compare equal.
    """

    values: Mapping[str, str]
    grants: frozenset[str]

    def differences(self, other: SessionFacts, *, mine: str, theirs: str) -> list[str]:
        out = [
            f"session {name}: {mine} {value}, {theirs} {other.values.get(name)}"
            for name, value in sorted(self.values.items())
            if other.values.get(name) != value
        ]
        out += [f"session grant only {mine} has: {g}" for g in sorted(self.grants - other.grants)]
        out += [f"session grant only {theirs} has: {g}" for g in sorted(other.grants - self.grants)]
        return out


class Admin(Protocol):
    """A master-user connection and the administrative verbs of one rotation."""

    def account_states(self, *users: str) -> dict[str, AccountState | None]:
        """Each user's account and profile, or None when the user does not exist."""
        ...

    def unreproducible(self, source: AccountState) -> list[str]:
        """What of the source's profile this master cannot give a partner, each with its fix.

        Read-only, so ``bluegreen status`` and ``rotate-now``'s pre-check can ask too. Also where an
        engine refuses what the blue/green model cannot carry (PostgreSQL: objects the source owns).
        """
        ...

    def partner_problems(self, source: AccountState, partner: AccountState | None) -> list[str]:
        """Why ``partner`` cannot become ``source``'s twin (MySQL: a different host part). Read-only."""
        ...

    def create_partner(self, source: AccountState, user: str) -> AccountState:
        """Creates ``user`` shaped like ``source`` with a throwaway password (the real one is set last,
        so a login with the pending password proves every earlier part of setSecret was done)."""
        ...

    def clone_profile(self, source: AccountState, target: AccountState) -> list[str]:
        """Makes ``target``'s profile equal ``source``'s, both ways; returns the kinds of change made."""
        ...

    def set_password(self, source: AccountState, target: AccountState, password: str) -> None:
        """Sets ``target``'s password so it authenticates like ``source`` (plugin / verifier type).

        The cleartext never reaches a log, an error message or (where the engine allows) the server.
        """
        ...

    def count_sessions(self, user: str) -> int:
        """Live sessions of ``user`` on the server, all databases, as the master sees them."""
        ...

    def rotation_lock(self, key: str) -> AbstractContextManager[bool]:
        """A server-side lock per secret, held on this connection; yields False when another holds it."""
        ...


@runtime_checkable
class OwnershipMigration(Protocol):
    """An :class:`Admin` whose engine lets one role own objects that its twin then cannot use
    (PostgreSQL): the one-time move of those objects to a shared owner role both colors are members of.

    A capability, not a verb of every engine: MySQL accounts own nothing, so its Admin lacks it and
    callers ask ``isinstance(admin, OwnershipMigration)`` rather than the engine's name.
    """

    def migrate_ownership(self, user: str, partner: str | None, owner: str, *, dry_run: bool) -> list[str]:
        """Moves ``user``'s objects to ``owner`` and makes both colors its members; idempotent.

        Returns the statements run (or, with ``dry_run``, that would run): empty when already done.
        """
        ...


class Engine(Protocol):
    """One database engine: its limits, defaults, and the verbs any user may run."""

    name: str
    """``mysql`` or ``postgresql``: for logs, metrics and messages, never for branching."""
    secret_engines: tuple[str, ...]
    """The secret's ``engine`` values this engine serves (``mysql``, ``aurora-mysql``...)."""
    default_port: int
    default_dbname: str | None
    max_user_name_bytes: int
    default_url_scheme: str

    def can_login(self, endpoint: Endpoint, user: str, password: str, database: str | None) -> bool:
        """True when the credentials log in; False on :class:`LoginDenied`; any other failure raises."""
        ...

    def test_login(self, endpoint: Endpoint, user: str, password: str, database: str | None) -> None:
        """Logs in and runs a query, as a client would; raises :class:`LoginDenied` or DatabaseError."""
        ...

    def session_facts(
        self, endpoint: Endpoint, user: str, password: str, database: str | None
    ) -> SessionFacts:
        """Logs in as a client would and asks the session what it is."""
        ...

    def admin(
        self, endpoint: Endpoint, user: str, password: str, database: str | None
    ) -> AbstractContextManager[Admin]:
        """A master connection (closed on exit) offering the administrative verbs.

        ``database`` is the secret's: an engine whose catalog is per database (PostgreSQL's grants,
        default privileges and policies) reads the profile there; one whose accounts are server-wide
        (MySQL) may ignore it.
        """
        ...
