"""What a master role can give a partner role: PostgreSQL's rules, by server version, as pure functions.

Aurora/RDS: the master is ``NOSUPERUSER CREATEDB CREATEROLE`` and a member of ``rds_superuser``
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Appendix.PostgreSQL.CommonDBATasks.Roles.html).
Up to PostgreSQL 15, CREATEROLE may alter any non-superuser role and grant membership in it, and
grant CREATEDB, but only a superuser grants REPLICATION or BYPASSRLS. PostgreSQL 16 narrowed CREATEROLE
(release notes, "Restrict the privileges of CREATEROLE"): altering a role or granting membership in
one needs ADMIN OPTION on it (the creator of a role gets that), and CREATEDB, REPLICATION and BYPASSRLS
can be given only by a role that has them. SUPERUSER is never reproducible. With
``rds.restrict_password_commands`` on, only members of ``rds_password`` may set passwords
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Appendix.PostgreSQL.CommonDBATasks.RestrictPasswordMgmt.html).

Each problem names what cannot be reproduced and the fix, as on MySQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .profile import Membership

__all__ = ["MasterFacts", "alter_problems", "attribute_problems", "membership_problems", "password_problems"]

PG16 = 160000


@dataclass(frozen=True)
class MasterFacts:
    """What the master is and holds, as far as the rules ask. ``admin_of``: roles it may administer
    (``pg_has_role(..., 'MEMBER WITH ADMIN OPTION')``); ``superuser_roles``: roles with SUPERUSER."""

    name: str
    server_version: int
    superuser: bool = False
    createrole: bool = False
    createdb: bool = False
    replication: bool = False
    bypassrls: bool = False
    admin_of: frozenset[str] = field(default_factory=frozenset)
    superuser_roles: frozenset[str] = field(default_factory=frozenset)
    restrict_password_commands: bool = False
    rds_password_member: bool = False
    password_encryption: str = ""
    """The master session's ``password_encryption`` ("" when not read): how libpq hashes a password."""

    def holds(self, attribute: str) -> bool:
        return {
            "CREATEDB": self.createdb,
            "CREATEROLE": self.createrole,
            "REPLICATION": self.replication,
            "BYPASSRLS": self.bypassrls,
        }.get(attribute, False)


def attribute_problems(attributes: Mapping[str, str], master: MasterFacts, role: str) -> list[str]:
    """Attributes of ``role`` the master cannot give its partner."""
    if master.superuser:
        return []
    out: list[str] = []
    if attributes.get("SUPERUSER") == "SUPERUSER":
        out.append(
            f"{role} is SUPERUSER, which no master can give a partner (Aurora has no superuser); fix: "
            f"ALTER ROLE {role} NOSUPERUSER and grant what it needs"
        )
    for name in ("CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS"):
        if attributes.get(name) != name:
            continue
        if name in ("REPLICATION", "BYPASSRLS") and master.server_version < PG16:
            needs = "only a superuser grants it before PostgreSQL 16"
        elif master.server_version >= PG16 and not master.holds(name):
            needs = f"the master {master.name} lacks {name} (PostgreSQL 16+ gives only what it has)"
        elif master.server_version < PG16 and not master.createrole:
            needs = f"the master {master.name} lacks CREATEROLE"
        else:
            continue
        out.append(
            f"ALTER ROLE <partner> {name}: {needs}; fix: ALTER ROLE {role} NO{name} if it need not "
            f"have it, or give the master {name} (ALTER ROLE {master.name} {name}, as a role that may)"
        )
    return out


def membership_problems(memberships: Iterable[Membership], master: MasterFacts, role: str) -> list[str]:
    """Memberships of ``role`` the master cannot grant its partner."""
    if master.superuser:
        return []
    out = []
    for m in sorted(memberships):
        if m.role in master.superuser_roles:
            out.append(
                f"GRANT {m.role} TO <partner>: {m.role} is a superuser role; fix: REVOKE {m.role} FROM {role}"
            )
        elif master.server_version >= PG16 and m.role not in master.admin_of:
            out.append(
                f"GRANT {m.role} TO <partner>: the master {master.name} lacks ADMIN OPTION on {m.role} "
                f"(PostgreSQL 16+); fix: GRANT {m.role} TO {master.name} WITH ADMIN OPTION (as a role "
                f"that has it), or REVOKE {m.role} FROM {role}"
            )
        elif master.server_version < PG16 and not master.createrole and m.role not in master.admin_of:
            out.append(
                f"GRANT {m.role} TO <partner>: the master {master.name} has neither CREATEROLE nor ADMIN "
                f"OPTION on {m.role}; fix: GRANT {m.role} TO {master.name} WITH ADMIN OPTION"
            )
    return out


def alter_problems(partner: str, master: MasterFacts) -> list[str]:
    """Whether the master may alter an existing partner role at all."""
    if master.superuser:
        return []
    if partner in master.superuser_roles:
        return [
            f"{partner} is a superuser role, which the master cannot alter; fix: use another partner name"
        ]
    if master.server_version >= PG16 and partner not in master.admin_of:
        return [
            f"ALTER ROLE {partner}: the master {master.name} lacks ADMIN OPTION on {partner} (PostgreSQL "
            f"16+: only roles it created, or was given ADMIN on); fix: GRANT {partner} TO {master.name} WITH "
            f"ADMIN OPTION (as a role that has it), or DROP ROLE {partner} so the rotation creates it"
        ]
    if master.server_version < PG16 and not master.createrole and partner not in master.admin_of:
        return [
            f"ALTER ROLE {partner}: the master {master.name} lacks CREATEROLE; "
            f"fix: ALTER ROLE {master.name} CREATEROLE"
        ]
    return []


def password_problems(master: MasterFacts) -> list[str]:
    """Aurora/RDS ``rds.restrict_password_commands``: only ``rds_password`` members set passwords."""
    if master.restrict_password_commands and not master.rds_password_member and not master.superuser:
        return [
            f"rds.restrict_password_commands is on and the master {master.name} is not a member of "
            f"rds_password, so it cannot set passwords; fix: GRANT rds_password TO {master.name}"
        ]
    return []
