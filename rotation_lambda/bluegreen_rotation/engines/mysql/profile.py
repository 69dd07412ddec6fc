"""The account profile: everything about a MySQL account a client can observe, as one comparable value.

A consumer switched to the partner user at a flip notices any difference, so the partner must equal
the current user in all of it: privileges at every level with their grant option, roles and their
admin option, default roles, partial revokes (MySQL 8), PROXY grants, the authentication plugin, the
TLS requirement, resource limits, the password expiry policy, the lock state and the failed-login
policy. This module is pure: it reads the server's own text (``SHOW GRANTS`` and ``SHOW CREATE USER``
lines, tokenized by :mod:`.tokens` so quoted names are never split) into an :class:`AccountProfile`
and names the differences between two profiles; :mod:`.plan` plans the changes turning one into the
other.
Rendering changes as SQL, and everything that differs between MariaDB and MySQL 8 / Aurora MySQL 3,
is in :mod:`.dialects`.

Password hashes are skipped by the tokenizer's grammar, never stored: a profile holds no secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ..base import Profile
from .tokens import Token, account_end, find_word, has_option, split_top, text_of, tokenize, unquote

_POLICY_VALUE_RE = re.compile(
    r"(?:DEFAULT|NEVER|LOCK|UNLOCK|OPTIONAL|UNBOUNDED|\d+|INTERVAL \d+ DAY|\d+ DAY)?"
)
_PLUGIN_RE = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class Account:
    """A MySQL account: user name and host part (``'app'@'%'``)."""

    user: str
    host: str

    def __str__(self) -> str:
        return f"'{self.user}'@'{self.host}'"


class ProfileError(ValueError):
    """The server printed something this model does not understand: refuse rather than guess."""


@dataclass(frozen=True, order=True)
class Priv:
    """One privilege, on a whole object or (``column`` set, as printed: ```c```) on one column."""

    name: str
    column: str | None = None

    def __str__(self) -> str:
        return self.name if self.column is None else f"{self.name} ({self.column})"


@dataclass(frozen=True)
class ObjectGrant:
    """Privileges on one object (``*.*``, ```db`.*``, ```db`.`t```, ``PROCEDURE `db`.`p```), with or
    without grant option: one GRANT line as printed. Keyed by both, because MySQL 8 prints dynamic
    global privileges with and without grant option on separate lines (the option is per privilege
    there, per level for static privileges).
    """

    on: str
    privileges: frozenset[Priv]
    grant_option: bool = False


@dataclass
class AccountProfile:
    """What a client can observe of one account. Absent means the engine's default."""

    grants: dict[tuple[str, bool], ObjectGrant] = field(default_factory=dict)  # by (object, option)
    partial_revokes: dict[str, frozenset[Priv]] = field(default_factory=dict)  # MySQL 8 only
    roles: dict[str, bool] = field(default_factory=dict)  # role as printed -> WITH ADMIN OPTION
    default_roles: tuple[str, ...] = ()
    proxies: dict[str, bool] = field(default_factory=dict)  # proxied account -> WITH GRANT OPTION
    plugins: tuple[str, ...] = ()
    require: tuple[tuple[str, str], ...] = ()  # () none; (("SSL", "")), (("ISSUER", "..."), ...)
    limits: dict[str, Decimal] = field(default_factory=dict)  # non-zero resource limits only
    policy: dict[str, str] = field(default_factory=dict)  # PASSWORD EXPIRE, ACCOUNT, FAILED_LOGIN_...
    expired: bool = False  # the password is expired now: state, not profile (a new password clears it)

    def privileges_on(self, on: str) -> frozenset[Priv]:
        """Every privilege held on one object, with or without grant option."""
        return frozenset().union(*(g.privileges for (o, _), g in self.grants.items() if o == on))

    def properties(self) -> dict[str, str]:
        """Every property as comparable text, under the name a difference is reported by."""
        props: dict[str, str] = {}
        # Each property below is named so that a difference reads on its own in testSecret's error.
        for (on, option), g in sorted(self.grants.items()):
            name = f"privileges on {on}" + (" WITH GRANT OPTION" if option else "")
            props[name] = privileges_text(g.privileges) or "USAGE"
        for on, revoked in sorted(self.partial_revokes.items()):
            props[f"partial revoke on {on}"] = privileges_text(revoked)
        for role, admin in sorted(self.roles.items()):
            props[f"role {role}"] = "granted" + (" WITH ADMIN OPTION" if admin else "")
        props["default roles"] = ", ".join(self.default_roles) or "NONE"
        for target, go in sorted(self.proxies.items()):
            props[f"proxy {target}"] = "granted" + (" WITH GRANT OPTION" if go else "")
        props["authentication plugin"] = " OR ".join(self.plugins) or "(none)"
        props["TLS requirement"] = require_text(self.require)
        for name, amount in sorted(self.limits.items()):
            props[f"limit {name}"] = f"{amount.normalize():f}"
        for name, text in sorted(self.policy.items()):
            props[name] = text
        return props

    def differences(self, other: Profile, *, mine: str, theirs: str) -> list[str]:
        """Each property that differs, named, with both values: what testSecret fails with.

        Implements :class:`..base.Profile`; only another MySQL profile compares.
        """
        if not isinstance(other, AccountProfile):
            raise TypeError(f"cannot compare a MySQL account profile with {type(other).__name__}")
        a, b = self.properties(), other.properties()
        out = []
        for name in sorted(a.keys() | b.keys()):
            va, vb = a.get(name), b.get(name)
            if va != vb:
                out.append(f"{name}: {mine} {va or 'none'}, {theirs} {vb or 'none'}")
        return out


def privileges_text(privs: Iterable[Priv]) -> str:
    """``SELECT (`a`, `b`), INSERT``: column privileges grouped as the server prints them."""
    ordered = sorted(privs)
    whole = [p.name for p in ordered if p.column is None]
    columns: dict[str, list[str]] = {}
    for p in ordered:
        if p.column is not None:
            columns.setdefault(p.name, []).append(p.column)
    return ", ".join(whole + [f"{name} ({', '.join(cols)})" for name, cols in columns.items()])


def require_text(require: Iterable[tuple[str, str]]) -> str:
    parts = [name if not value else f"{name} {value!r}" for name, value in require]
    return " ".join(parts) or "NONE"


# --- parsing the server's text ---------------------------------------------------------------------


def parse_privileges(line: str, tokens: list[Token]) -> frozenset[Priv]:
    """``SELECT (`a`, `b`), INSERT`` -> one Priv per privilege and column; USAGE is no privilege."""
    privs: set[Priv] = set()
    for part in split_top(tokens):
        if "(" in [t.text for t in part]:
            open_at = next(i for i, t in enumerate(part) if t.text == "(")
            name = " ".join(t.text.upper() for t in part[:open_at])
            columns = [t for t in part[open_at + 1 : -1] if t.kind in ("bq", "word")]
            privs.update(Priv(name, c.text if c.kind == "bq" else f"`{c.text}`") for c in columns)
        else:
            if not all(t.kind == "word" for t in part):
                raise ProfileError(f"unexpected privilege {text_of(line, part)!r}")
            word = " ".join(t.text.upper() for t in part)
            if word != "USAGE":
                privs.add(Priv(word))
    return frozenset(privs)


def parse_grant_line(line: str, profile: AccountProfile) -> None:
    """Adds one ``SHOW GRANTS`` line (GRANT, MySQL 8's partial-revoke REVOKE) to the profile."""
    tokens = tokenize(line)
    if not tokens:
        return
    head = tokens[0]
    if head.is_word("GRANT"):
        to = find_word(tokens, "TO", 1)
        on = find_word(tokens, "ON", 1)
        if to < 0:
            raise ProfileError("unexpected SHOW GRANTS line: GRANT without TO")
        rest = tokens[account_end(tokens, to + 1) :]
        if on < 0 or on > to:  # a role grant: GRANT `r1`[@`h`], `r2` TO ...
            admin = has_option(rest, "ADMIN")
            for part in split_top(tokens[1:to]):
                role = text_of(line, part)
                profile.roles[role] = profile.roles.get(role, False) or admin
            return
        obj = text_of(line, tokens[on + 1 : to])
        grant_option = has_option(rest, "GRANT")
        privs = parse_privileges(line, tokens[1:on])
        if privs == {Priv("PROXY")}:
            profile.proxies[obj] = grant_option
            return
        if privs or grant_option:
            prev = profile.grants.get((obj, grant_option))
            if prev is not None:  # the same object on two lines: merge
                privs = privs | prev.privileges
            profile.grants[(obj, grant_option)] = ObjectGrant(obj, privs, grant_option)
        return
    if head.is_word("REVOKE"):
        on, frm = find_word(tokens, "ON", 1), find_word(tokens, "FROM", 1)
        if on < 0 or frm < on:
            raise ProfileError("unexpected SHOW GRANTS line: REVOKE without ON ... FROM")
        obj = text_of(line, tokens[on + 1 : frm])
        profile.partial_revokes[obj] = profile.partial_revokes.get(obj, frozenset()) | parse_privileges(
            line, tokens[1:on]
        )
        return
    raise ProfileError(f"unexpected SHOW GRANTS line starting {head.text!r}")


def parse_role_list(line: str, tokens: list[Token], i: int) -> tuple[list[str], int]:
    roles = []
    while i < len(tokens):
        end = account_end(tokens, i)
        roles.append(text_of(line, tokens[i:end]))
        i = end
        if i < len(tokens) and tokens[i].text == ",":
            i += 1
            continue
        break
    return roles, i


def parse_create_user(line: str, profile: AccountProfile) -> None:
    """Adds one ``SHOW CREATE USER`` row (``CREATE USER ...`` or MariaDB's extra ``ALTER USER ...``)."""
    tokens = tokenize(line)
    if len(tokens) < 3 or not (tokens[0].is_word("CREATE", "ALTER") and tokens[1].is_word("USER")):
        raise ProfileError("unexpected SHOW CREATE USER row")
    i = account_end(tokens, 2)
    n = len(tokens)

    def word(k: int) -> str:
        return tokens[k].text.upper() if k < n and tokens[k].kind == "word" else ""

    def value(k: int) -> str:
        return tokens[k].text if k < n else ""

    while i < n:
        w = word(i)
        if w == "IDENTIFIED":
            i += 1
            plugins: list[str] = []
            if word(i) == "BY":  # MariaDB: IDENTIFIED BY PASSWORD '<hash>' is mysql_native_password
                i += 2 if word(i + 1) == "PASSWORD" else 1
                plugins.append("mysql_native_password")
                i += 1  # the hash: skipped, never kept
            else:
                while word(i) in ("VIA", "WITH", "OR"):
                    plugin = unquote(tokens[i + 1])
                    if not _PLUGIN_RE.fullmatch(plugin):
                        raise ProfileError("unexpected authentication plugin name")
                    plugins.append(plugin)
                    i += 2
                    if word(i) in ("USING", "AS", "BY"):
                        i += 2  # the hash or authentication string: skipped, never kept
            profile.plugins = tuple(plugins)
        elif w == "DEFAULT" and word(i + 1) == "ROLE":
            roles, i = parse_role_list(line, tokens, i + 2)
            profile.default_roles = tuple(sorted(roles))
        elif w == "REQUIRE":
            i += 1
            if word(i) in ("NONE", "SSL", "X509"):
                profile.require = () if word(i) == "NONE" else ((word(i), ""),)
                i += 1
            else:
                req = []
                while word(i) in ("ISSUER", "SUBJECT", "CIPHER", "AND"):
                    if word(i) != "AND":
                        req.append((word(i), unquote(tokens[i + 1])))
                        i += 1
                    i += 1
                profile.require = tuple(req)
        elif w == "WITH":
            i += 1
            while word(i).startswith("MAX_"):
                try:
                    amount = Decimal(value(i + 1))
                except InvalidOperation:
                    raise ProfileError(f"unexpected value of {word(i)}") from None
                if amount:
                    profile.limits[word(i)] = amount
                else:
                    profile.limits.pop(word(i), None)
                i += 2
        elif w == "PASSWORD" and word(i + 1) == "EXPIRE":
            i += 2
            if word(i) in ("DEFAULT", "NEVER"):
                profile.policy["PASSWORD EXPIRE"] = word(i)
                i += 1
            elif word(i) == "INTERVAL":
                profile.policy["PASSWORD EXPIRE"] = f"INTERVAL {int(value(i + 1))} DAY"
                i += 3
            else:
                profile.expired = True
        elif w == "PASSWORD" and word(i + 1) == "HISTORY":
            profile.policy["PASSWORD HISTORY"] = value(i + 2).upper()
            i += 3
        elif w == "PASSWORD" and word(i + 1) == "REUSE":
            if word(i + 3) == "DEFAULT":
                profile.policy["PASSWORD REUSE INTERVAL"] = "DEFAULT"
                i += 4
            else:
                profile.policy["PASSWORD REUSE INTERVAL"] = f"{int(value(i + 3))} DAY"
                i += 5
        elif w == "PASSWORD" and word(i + 1) == "REQUIRE":
            i += 3
            mode = word(i) if word(i) in ("DEFAULT", "OPTIONAL") else ""
            profile.policy["PASSWORD REQUIRE CURRENT"] = mode
            i += 1 if mode else 0
        elif w == "ACCOUNT":
            profile.policy["ACCOUNT"] = word(i + 1)
            i += 2
        elif w in ("FAILED_LOGIN_ATTEMPTS", "PASSWORD_LOCK_TIME"):
            profile.policy[w] = value(i + 1).upper()
            i += 2
        elif w in ("ATTRIBUTE", "COMMENT"):
            i += 2  # MySQL 8 user attributes: metadata, not observable by the account's sessions
        else:
            raise ProfileError(f"unexpected clause {w or tokens[i].kind!r} in SHOW CREATE USER")
    for name, v in profile.policy.items():
        if not _POLICY_VALUE_RE.fullmatch(v):
            raise ProfileError(f"unexpected value of {name}")


def parse_profile(
    grant_lines: Iterable[str],
    create_user_lines: Iterable[str],
    *,
    policy_defaults: Mapping[str, str],
    default_role_line: re.Pattern[str] | None = None,
) -> AccountProfile:
    """One profile from the two server outputs; ``policy_defaults`` fill what the engine omits."""
    profile = AccountProfile(policy=dict(policy_defaults))
    for line in create_user_lines:
        parse_create_user(line, profile)
    for line in grant_lines:
        m = default_role_line.match(line) if default_role_line else None
        if m:  # MariaDB prints its one default role as a SHOW GRANTS line
            tokens = tokenize(m.group(1))
            roles = [] if tokens and tokens[0].is_word("NONE") else [m.group(1)]
            profile.default_roles = tuple(roles)
            continue
        parse_grant_line(line, profile)
    return profile


# --- what the master user cannot reproduce ---------------------------------------------------------


@dataclass(frozen=True)
class ObjectRef:
    """A table, column or routine a grant names, to check it still exists."""

    kind: str  # table, column, procedure, function
    schema: str
    name: str
    column: str = ""
    grant: str = ""  # the privileges on it, for the message


def referenced_objects(profile: AccountProfile) -> list[ObjectRef]:
    """Tables, columns and routines named by object-level grants (``*`` wildcards excluded)."""
    refs = []
    for (on, _), g in sorted(profile.grants.items()):
        tokens = tokenize(on)
        kind = "table"
        if tokens and tokens[0].is_word("PROCEDURE", "FUNCTION", "PACKAGE"):
            kind = tokens[0].text.lower()
            tokens = tokens[1:]
            if "package" in kind:
                continue  # MariaDB packages (Oracle mode): not checked
        if len(tokens) != 3 or tokens[1].text != "." or tokens[2].text == "*":
            continue
        schema, name = unquote(tokens[0]), unquote(tokens[2])
        refs.append(ObjectRef(kind, schema, name, grant=privileges_text(g.privileges)))
        by_column: dict[str, list[Priv]] = {}
        for p in g.privileges:
            if p.column is not None:
                by_column.setdefault(p.column, []).append(p)
        for column, privs in sorted(by_column.items()):
            col = unquote(tokenize(column)[0])
            refs.append(ObjectRef("column", schema, name, col, grant=privileges_text(privs)))
    return list(dict.fromkeys(refs))


def as_set(text: str) -> str:
    """A comma-separated list (``CURRENT_ROLE()`` on MySQL 8, in no fixed order) sorted."""
    tokens = tokenize(text)
    return ",".join(sorted(text_of(text, part) for part in split_top(tokens))) if tokens else text


def normalize_session_grant(line: str, account: Account) -> str:
    """A line of a session's ``SHOW GRANTS`` with its own account replaced by ``{user}`` and the
    password hash cut, so two users' sessions compare equal when they can do the same."""
    tokens = tokenize(line)
    out, pos, i = [], 0, 0
    while i < len(tokens):
        t = tokens[i]
        if t.is_word("IDENTIFIED"):
            j = i + 1
            while j < len(tokens) and not tokens[j].is_word("REQUIRE", "WITH"):
                j += 1
            out.append(line[pos : t.start].rstrip() + " ")
            pos = tokens[j].start if j < len(tokens) else len(line)
            i = j
            continue
        if (
            i + 2 < len(tokens)
            and t.kind in ("bq", "sq")
            and tokens[i + 1].text == "@"
            and unquote(t) == account.user
            and unquote(tokens[i + 2]) == account.host
        ):
            out.append(line[pos : t.start] + "{user}")
            pos = tokens[i + 2].end
            i += 3
            continue
        i += 1
    out.append(line[pos:])
    return "".join(out).strip()
