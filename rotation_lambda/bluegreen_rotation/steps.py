"""The four steps of the Secrets Manager rotation protocol, top to bottom.

createSecret  stage the other color's user with a fresh password as AWSPENDING (a retry reuses it)
setSecret     as the master user: make that user's account profile the current one's, then set
              the password (so it authenticates as the current user does)
testSecret    log in as it and as the current user: accounts and sessions must be indistinguishable
finishSecret  mirror its URLs, then the flag, then move AWSCURRENT to it

Each step is idempotent: Secrets Manager retries whole rotations, and any step may run twice or
stop half way. The database is reached only through the secret's engine (:mod:`.engines.base`):
nothing here knows a driver, an SQL statement or an error code.
"""

from __future__ import annotations

from bluegreen_db.naming import ROLES

from . import guards
from .context import RotationContext
from .engines.base import AccountState, Admin, Endpoint, LoginDenied, SessionFacts
from .errors import DatabaseError, InvalidInputError, RotationRefusedError
from .guards import GuardInput
from .mirror import MirrorState
from .observability import logger, metrics
from .secret import DbSecret
from .secrets_store import PENDING


def create_secret(rot: RotationContext) -> None:
    existing = rot.store.value(rot.arn, rot.token, PENDING)
    if existing is not None:
        pending = DbSecret.parse(existing, "AWSPENDING version")
        logger.info("AWSPENDING already holds a password; reusing it", extra={"color": pending.color})
        return
    current = rot.current()
    rot.master(current)  # an unreadable or malformed master secret is rejected before anything changes
    password = rot.store.random_password(rot.settings.password_length, rot.settings.exclude_characters)
    pending = current.next_version(password)
    rot.store.put_pending(rot.arn, rot.token, pending.to_json(), rot.rotation_token)
    logger.info(
        "staged AWSPENDING for the other color",
        extra={"from_color": current.color, "color": pending.color, "user": pending.username},
    )


def set_secret(rot: RotationContext) -> None:
    pending, current = rot.pending(), rot.current()
    _check_pair(pending, current)
    endpoint = rot.endpoint(pending.host, pending.port)
    rot.require_time("log in as the pending user")
    # In the secret's database, as a client logs in: where a role may connect only to some databases
    # (PostgreSQL's CONNECT privilege), any other one would refuse a password that is set.
    if rot.engine.can_login(endpoint, pending.username, pending.password, database=pending.dbname):
        logger.info("the pending password already logs in; nothing to do", extra={"user": pending.username})
        return
    state = reconcile_mirror(rot, current)
    guards.check_not_in_use(
        GuardInput(
            target_color=pending.color,
            target_user=pending.username,
            current_user=current.username,
            mirror=state,
            now=rot.now(),
            grace_seconds=rot.settings.rotation_grace_seconds,
        )
    )
    master = rot.master(current)
    rot.require_time("change the password as the master user")
    with rot.engine.admin(
        rot.endpoint(master.host, master.port), master.username, master.password, database=current.dbname
    ) as admin:
        with admin.rotation_lock(rot.arn) as acquired:
            if not acquired:
                raise RotationRefusedError(
                    "another setSecret for this secret is running; refusing to race it"
                )
            sessions = admin.count_sessions(pending.username)
            guards.check_sessions(pending.username, sessions, rot.settings.active_session_policy)
            if sessions:
                logger.warning(
                    "changing the password of a user with live sessions (ACTIVE_SESSION_POLICY=warn)",
                    extra={"user": pending.username, "sessions": sessions},
                )
                metrics.add_metric(name="ActiveSessionsWarning", unit="Count", value=1)
            source, partner = _partner_like_current(admin, current.username, pending.username)
            # Last: a login with the pending password now proves everything above was done.
            admin.set_password(source, partner, pending.password)
    logger.info("set the pending password", extra={"user": pending.username, "color": pending.color})


def _partner_like_current(
    admin: Admin, current_user: str, partner_user: str
) -> tuple[AccountState, AccountState]:
    """Makes the partner user's account profile exactly the current user's, both ways, every rotation.

    Refuses first, changing nothing, when the partner cannot become the current user's twin or the
    master user cannot reproduce something the current user has; then creates the partner when
    missing (shaped like the current user) and syncs its profile. Returns both account states: the
    password, set last, is set so the partner authenticates like the current user.
    """
    states = admin.account_states(current_user, partner_user)
    source, partner = states[current_user], states[partner_user]
    if source is None:
        raise DatabaseError(f"the current user {current_user!r} does not exist in the database")
    problems = admin.partner_problems(source, partner)
    if problems:
        raise DatabaseError("; ".join(problems))
    problems = admin.unreproducible(source)
    if problems:
        raise DatabaseError(
            f"the master user cannot give {partner_user!r} everything {current_user!r} has; nothing "
            "was changed: " + "; ".join(problems)
        )
    if partner is None:
        partner = admin.create_partner(source, partner_user)
        logger.info("created the partner user", extra={"user": partner_user})
    changes = admin.clone_profile(source, partner)
    if changes:
        logger.info("re-synced the partner's account profile", extra={"changes": changes})
    return source, partner


def test_secret(rot: RotationContext) -> None:
    pending, current = rot.pending(), rot.current()
    rot.require_time("log in as the pending user")
    if pending.username == current.username:
        # RotateSecret with RotateImmediately=false: AWSPENDING is a copy of AWSCURRENT and only this
        # step runs (docs/conformance.md). Logging in is the whole test; change nothing.
        _log_in_everywhere(rot, pending)
        logger.info(
            "configuration test: AWSCURRENT's user logs in; nothing changed", extra={"user": pending.username}
        )
        return
    writer = rot.endpoint(pending.host, pending.port)
    _log_in_everywhere(rot, pending, skip=pending.host)
    pending_session = rot.engine.session_facts(writer, pending.username, pending.password, pending.dbname)
    current_session = _current_session(rot, writer, current)
    master = rot.master(pending)
    with rot.engine.admin(
        rot.endpoint(master.host, master.port), master.username, master.password, database=pending.dbname
    ) as admin:
        states = admin.account_states(current.username, pending.username)
    source, target = states[current.username], states[pending.username]
    if source is None or target is None:
        raise DatabaseError(f"user {current.username!r} or {pending.username!r} is missing")
    names = {"mine": repr(current.username), "theirs": repr(pending.username)}
    differences = source.profile.differences(target.profile, **names)
    if current_session is not None:
        differences += current_session.differences(pending_session, **names)
    if differences:
        raise DatabaseError(
            f"{pending.username!r} differs from {current.username!r}, whose place it takes at the flip: "
            + "; ".join(differences)
        )
    logger.info(
        "the pending user's account and session equal the current user's", extra={"user": pending.username}
    )


def _current_session(rot: RotationContext, writer: Endpoint, current: DbSecret) -> SessionFacts | None:
    """A session of AWSCURRENT's user, to compare with the pending user's; None when its password no
    longer logs in. That is an outage the flip ends (consumers move to the pending user), so the
    rotation goes on with the account profiles compared alone instead of blocking its own remedy."""
    try:
        return rot.engine.session_facts(writer, current.username, current.password, current.dbname)
    except LoginDenied:
        logger.warning(
            "AWSCURRENT's password does not log in: comparing account profiles only, not sessions",
            extra={"user": current.username},
        )
        metrics.add_metric(name="CurrentLoginFailed", unit="Count", value=1)
        return None


def _log_in_everywhere(rot: RotationContext, secret: DbSecret, skip: str | None = None) -> None:
    """Logs in on the writer and reader endpoints (once per distinct host) and runs a query."""
    for host in dict.fromkeys(secret.host_for(role) for role in ROLES):
        if host != skip:
            rot.engine.test_login(
                rot.endpoint(host, secret.port), secret.username, secret.password, secret.dbname
            )


def finish_secret(rot: RotationContext) -> None:
    pending = rot.pending()
    _check_pair(pending, rot.current())  # never promote a copy of AWSCURRENT (a configuration test's)
    mirror = rot.mirror(pending)
    for role in ROLES:
        mirror.write_url(pending.color, role, pending.url(role, rot.url_scheme))
    mirror.write_flag(pending.color)
    rot.store.promote(rot.arn, rot.token, rot.state.current_version)
    rot.store.forget(rot.arn)
    logger.info("promoted AWSCURRENT and flipped the flag", extra={"color": pending.color})


def ensure_mirror(rot: RotationContext) -> None:
    """finishSecret for a token already AWSCURRENT: make sure the mirror is complete."""
    current = rot.current()
    reconcile_mirror(rot, current)


def reconcile_mirror(rot: RotationContext, current: DbSecret) -> MirrorState:
    """Completes the mirror of AWSCURRENT: its color's URLs, then the flag on its color.

    When a finishSecret stopped half way and the service gave up, the flag may name a color other
    than AWSCURRENT's: moving it back to AWSCURRENT (whose password still works) restarts that color's
    grace period, so the guard then refuses to change its password until consumers have moved.
    """
    mirror = rot.mirror(current)
    state = mirror.read()
    changed = []
    for role in ROLES:
        url = current.url(role, rot.url_scheme)
        if state.url(current.color, role) != url:
            mirror.write_url(current.color, role, url)
            changed.append(f"{current.color}/{role}")
    if state.flag != current.color:
        if state.flag is not None:
            logger.warning(
                "the flag disagreed with AWSCURRENT; moving it back",
                extra={"flag": state.flag_value, "color": current.color},
            )
            metrics.add_metric(name="MirrorReconciled", unit="Count", value=1)
        mirror.write_flag(current.color)
        changed.append("flag")
    if not changed:
        return state
    logger.info("completed the mirror of AWSCURRENT", extra={"written": changed})
    return mirror.read()


def _check_pair(pending: DbSecret, current: DbSecret) -> None:
    if not pending.same_pair(current):
        raise InvalidInputError("AWSPENDING and AWSCURRENT name different blue/green user pairs")
    if pending.username == current.username:
        raise RotationRefusedError(
            f"AWSPENDING and AWSCURRENT are both {pending.username!r}; refusing to change a user in use"
        )


STEPS = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}
