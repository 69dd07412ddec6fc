"""``bluegreen adopt --shared-owner ROLE``: the one-time ownership migration a rotation's refusal names.

A PostgreSQL role that owns objects cannot get a twin (two roles cannot own one table), so setSecret
and ``bluegreen status`` refuse it, naming this option. The SQL lives in the engine
(:class:`~bluegreen_rotation.engines.base.OwnershipMigration`); this module connects as the master
user to the secret's database, asks the engine for the migration and records each statement in the
outcome. An engine whose accounts own nothing (MySQL) has no such verb and is refused.
"""

from __future__ import annotations

from bluegreen_db.naming import other_color
from bluegreen_rotation.engines import engine_for
from bluegreen_rotation.engines.base import OwnershipMigration
from bluegreen_rotation.errors import DatabaseError, InvalidInputError, RotationRefusedError
from bluegreen_rotation.secret import DbSecret

from ..exit_codes import EXIT_USAGE
from .env import Env
from .errors import OperationError, RefusedError
from .writes import Outcome


def migrate_shared_owner(env: Env, current: DbSecret, owner: str, outcome: Outcome) -> None:
    """Moves AWSCURRENT's user's objects to ``owner`` (or, on a dry run, lists how), as the master.

    Each statement lands in ``outcome.changes`` (``<database>: <statement>``) and in the document's
    ``sharedOwner``; a migration already complete adds nothing, so re-running is safe.
    """
    engine = engine_for(current.engine)
    partner = current.username_of(other_color(current.color))
    master = env.master(current)
    database = current.dbname or engine.default_dbname
    env.out.progress(
        f"{'planning' if outcome.dry_run else 'migrating'} the objects of {current.username} to the "
        f"shared owner {owner} in database {database}, as {master.username}"
    )
    try:
        with engine.admin(
            env.endpoint(master.host, master.port), master.username, master.password, database
        ) as admin:
            if not isinstance(admin, OwnershipMigration):
                raise RefusedError(
                    f"--shared-owner is for PostgreSQL secrets: this secret's engine is {current.engine!r}, "
                    f"whose accounts own no objects, so there is nothing to migrate; nothing was changed"
                )
            statements = admin.migrate_ownership(current.username, partner, owner, dry_run=outcome.dry_run)
    except InvalidInputError as exc:
        raise OperationError(f"{exc}; nothing was changed", EXIT_USAGE) from None
    except RotationRefusedError as exc:
        raise RefusedError(f"{exc}; nothing was changed") from None
    except DatabaseError as exc:
        raise OperationError(
            f"the shared-owner migration failed as {master.username!r}: {exc}; it runs in one "
            "transaction, so nothing was changed"
        ) from None
    outcome.changes += [f"{database}: {s}" for s in statements]
    outcome.details["sharedOwner"] = {"role": owner, "database": database, "statements": statements}
    for statement in statements if not outcome.dry_run else []:
        env.out.progress(f"ran in {database}: {statement}")
