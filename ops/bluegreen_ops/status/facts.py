"""``bluegreen status``: read everything a rotation depends on and say whether it is consistent.

Facts are gathered read-only (DescribeSecret, one GetSecretValue per staged version, one
GetParameters for the mirror and one per replica region, one master connection to count sessions,
one login per version and per other credentials the flag's URLs hold) and turned into problems by
:mod:`.rules` (and :mod:`.region_rules` for replica regions), ranked by :mod:`.diagnosis`, each with
the one command that fixes it. The first problem is the verdict; none means ``consistent``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from bluegreen_db.dburl import parse_url
from bluegreen_db.naming import COLORS, ROLES, Color, other_color
from bluegreen_rotation.engines import engine_for
from bluegreen_rotation.engines.base import Admin, LoginDenied
from bluegreen_rotation.errors import DatabaseError, InvalidInputError
from bluegreen_rotation.mirror import Mirror, MirrorState
from bluegreen_rotation.regions import primary_region_of
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import CURRENT, PENDING, PREVIOUS

from ..operations.clients import make_clients
from ..operations.env import Env
from ..operations.forecast import next_rotation_everywhere
from ..operations.guard_settings import guard_settings
from ..operations.rollback import ROLLBACK_LABEL
from ..operations.secret_reads import describe, read_version
from ..operations.urls import UrlCheck, check_url
from .diagnosis import Problem, ranked, seconds_since_flip
from .region_rules import complete_mirror_command, replica_problems
from .report import RegionFacts, StatusReport, UrlFacts, VersionFacts
from .rules import Situation, diagnose

_STAGE_ORDER = {CURRENT: 0, PENDING: 1, PREVIOUS: 2}


def inspect(env: Env, *, check_db: bool = True, now: datetime | None = None) -> StatusReport:
    """Gathers the facts and the problems; changes nothing."""
    now = now or datetime.now(UTC)
    meta = describe(env)
    guard = guard_settings(env, meta)
    report = StatusReport(
        meta=meta,
        names=env.names_for(None),
        grace_seconds=guard.grace_seconds,
        session_policy=guard.session_policy,
        checked_db=check_db,
        now=now,
        settings_source=guard.source,
    )
    for vid, stages in meta.staged_versions():
        if set(stages) == {ROLLBACK_LABEL}:
            continue  # an old rollback's mark, left on a version rotations have since moved past
        facts = VersionFacts(vid, sorted(stages, key=lambda s: (_STAGE_ORDER.get(s, 3), s)))
        try:
            facts.secret = read_version(env, meta, vid, f"version {vid}")
            if facts.secret is None:
                facts.error = "no value yet (createSecret has not run)"
        except InvalidInputError as exc:
            facts.error = str(exc)
        report.versions.append(facts)

    if not meta.state.rotation_enabled:
        report.notes.append(
            "rotation is not enabled on the secret: Secrets Manager will not rotate it on schedule"
        )
    current_facts = report.stage(CURRENT)
    current = report.current
    if current_facts is None or current is None:
        why = current_facts.error if current_facts else "the secret has no AWSCURRENT version"
        report.problems.append(
            Problem(
                "outage",
                f"AWSCURRENT cannot be used: {why}",
                f"put a valid JSON SecretString: `aws secretsmanager put-secret-value --secret-id {env.sid} "
                "--secret-string file://secret.json`",
            )
        )
        report.mirror = env.mirror_for(None).read()
        return report

    report.names = env.names_for(current)
    mirror = env.mirror_for(current).read()
    report.mirror = mirror
    report.since_flip = seconds_since_flip(mirror, now)
    gather_urls(report, mirror, current)
    gather_replicas(report, env, current)
    if check_db:
        _check_database(report, env, current)
    problems, notes = diagnose(Situation(report, current, mirror, env.sid, env.rotate_command))
    report.problems.extend(problems)
    report.notes.extend(notes)
    report.problems.extend(replica_problems(report, current, complete_mirror_command(env, report)))
    _forecast(report, mirror, current)
    report.problems = ranked(report.problems)
    return report


def _expected_for(report: StatusReport, color: Color, current: DbSecret) -> list[tuple[str, DbSecret]]:
    """The versions whose credentials a color's URLs may rightly hold, in order of preference."""
    if color == current.color:
        return [(CURRENT, current)]
    found: list[tuple[str, DbSecret]] = []
    for stage, facts in ((PREVIOUS, report.stage(PREVIOUS)), (PENDING, report.pending)):
        if facts and facts.secret and facts.secret.color == color and facts.secret.same_pair(current):
            found.append((stage, facts.secret))
    return found


def gather_urls(report: StatusReport, mirror: MirrorState, current: DbSecret) -> None:
    report.urls.extend(url_facts(report, mirror, current, _primary_region(report)))


def url_facts(
    report: StatusReport, mirror: MirrorState, current: DbSecret, region: str | None
) -> list[UrlFacts]:
    """Each color's URLs in one region's mirror, compared with the versions as that region's
    consumers use them (its own ``readerHost`` from the ``regions`` key)."""
    found = []
    for color in COLORS:
        user = current.username_of(color)
        candidates = [
            (stage, secret.in_region(region) if region else secret)
            for stage, secret in _expected_for(report, color, current)
        ]
        for role in ROLES:
            url = mirror.url(color, role)
            check: UrlCheck | None = None
            matches = None
            for stage, secret in candidates:
                attempt = check_url(url, user, role, secret)
                if attempt.ok:
                    check, matches = attempt, stage
                    break
                check = check or attempt
            if check is None:
                check = check_url(url, user, role, None)
            found.append(UrlFacts(color, role, report.names.url(color, role), user, check, matches))
    return found


def _primary_region(report: StatusReport) -> str | None:
    try:
        return primary_region_of(report.meta.arn)
    except InvalidInputError:
        return None


def gather_replicas(report: StatusReport, env: Env, current: DbSecret) -> None:
    """Every replica region's flag and URLs, read as a consumer there reads them: one GetParameters
    with a client of that region (the CLI's profile and endpoint)."""
    replicas = report.meta.state.replicas
    primary = _primary_region(report)
    if not replicas or primary is None or report.mirror is None:
        return
    report.regions.append(RegionFacts(primary, True, report.mirror, report.urls))
    for region in replicas:
        facts = RegionFacts(region, False)
        try:
            _, ssm = make_clients(region, env.profile)
            facts.mirror = Mirror(ssm, report.names).read()
        except (ClientError, BotoCoreError) as exc:
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
            facts.error = str(code or type(exc).__name__)
        else:
            facts.urls = url_facts(report, facts.mirror, current, region)
        report.regions.append(facts)


def _check_database(report: StatusReport, env: Env, current: DbSecret) -> None:
    """Sessions per user (as the master user); then whether AWSCURRENT, AWSPREVIOUS, the unfinished
    AWSPENDING and the URLs the flag names log in."""
    engine = engine_for(current.engine)
    try:
        master = env.master(current)
    except InvalidInputError as exc:
        report.problems.append(
            Problem(
                "unchecked", f"cannot count sessions: {exc}", "fix the master secret named by 'masterarn'"
            )
        )
        master = None
    if master is not None:
        report.master_user = master.username
        try:
            # The secret's database: PostgreSQL reads a role's objects and grants in the connected one.
            with engine.admin(
                env.endpoint(master.host, master.port), master.username, master.password, current.dbname
            ) as admin:
                for color in COLORS:
                    user = current.username_of(color)
                    report.sessions[user] = admin.count_sessions(user)
                _check_reproducible(report, admin, current)
        except LoginDenied as exc:
            report.problems.append(
                Problem(
                    "unchecked",
                    f"the master user {master.username!r} (from {current.masterarn}) is denied access: {exc}",
                    "the master secret's password no longer matches the database: see the runbook, "
                    "'Access denied for the master user'",
                )
            )
        except DatabaseError as exc:
            report.problems.append(_unreachable(exc))
            return  # every other connection would fail the same way
    tried: dict[tuple[str, int, str, str], bool] = {}

    def login(host: str, port: int, user: str, password: str) -> str:
        """One login per host and credentials: a URL holding a version's is not tried again."""
        key = (host, port, user, password)
        if key not in tried:
            tried[key] = engine.can_login(env.endpoint(host, port), user, password, None)
        return "yes" if tried[key] else "no"

    try:
        for facts in (report.stage(CURRENT), report.stage(PREVIOUS), report.pending):
            if facts is None or facts.secret is None:
                continue
            secret = facts.secret
            if PREVIOUS in facts.stages and secret.username == current.username:
                facts.login = "n/a"
                continue
            facts.login = login(secret.host, secret.port, secret.username, secret.password)
        flag = report.mirror.flag if report.mirror else None
        if flag is not None:
            for u in report.urls_of(flag):
                if u.check.state in ("missing", "malformed"):
                    continue
                parsed = parse_url(report.mirror.url(flag, u.role) or "")  # type: ignore[union-attr]
                env.out.protect(parsed.password)
                u.login = login(parsed.host, parsed.port, parsed.username, parsed.password)
    except DatabaseError as exc:
        report.problems.append(_unreachable(exc))


def _check_reproducible(report: StatusReport, admin: Admin, current: DbSecret) -> None:
    """What setSecret would refuse to copy from AWSCURRENT's user to its partner."""
    state = admin.account_states(current.username)[current.username]
    for problem in admin.unreproducible(state) if state is not None else []:
        message, _, fix = problem.partition("; fix: ")
        report.problems.append(
            Problem("blocked", f"the next setSecret will refuse: {message}", fix or "see the message")
        )


def _unreachable(exc: DatabaseError) -> Problem:
    return Problem(
        "unchecked",
        f"database check failed: {exc}",
        "check network access and DB_TLS_MODE/DB_TLS_CA_FILE (runbook: TLS failures), "
        "or skip the database checks with --skip-db",
    )


def _forecast(report: StatusReport, mirror: MirrorState, current: DbSecret) -> None:
    """The Next line: what setSecret will say to a rotation started now (the function's own guards)."""
    target_user = current.username_of(other_color(current.color))
    sessions = report.sessions.get(target_user) if report.checked_db else None
    replicas = {r.region: r.mirror for r in report.regions[1:] if r.mirror is not None}
    forecast = next_rotation_everywhere(
        current,
        mirror,
        replicas,
        now=report.now,
        grace_seconds=report.grace_seconds,
        sessions=sessions,
        policy=report.session_policy,
    )
    if report.meta.stuck_pending:
        report.next_rotation = "blocked until the unfinished rotation completes or is abandoned"
        report.next_rotation_allowed = False
    elif forecast.refusal:
        report.next_rotation = f"would be refused: {forecast.refusal}"
        report.next_rotation_allowed = False
    else:
        unchecked = "" if forecast.sessions_checked else " (live sessions not checked)"
        report.next_rotation = (
            f"allowed: gives {forecast.target_color} ({target_user}) a new password{unchecked}"
        )
        report.next_rotation_allowed = True
