"""``bluegreen status``: read everything a rotation depends on and say whether it is consistent.

Facts are gathered read-only (DescribeSecret, one GetSecretValue per staged version, one
GetParameters for the mirror, one master connection to count sessions, one login per version and
per other credentials the flag's URLs hold) and turned into problems ranked by :mod:`.diagnosis`,
each with the one command that fixes it. The first problem is the verdict; none means ``consistent``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bluegreen_db.dburl import parse_url
from bluegreen_db.naming import COLORS, ROLES, Color, ParameterNames, Role, other_color
from bluegreen_rotation import database
from bluegreen_rotation.database import Admin
from bluegreen_rotation.errors import DatabaseError, InvalidInputError
from bluegreen_rotation.mirror import MirrorState
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import CURRENT, PENDING, PREVIOUS

from .cli_common import (
    EXIT_FAILURE,
    EXIT_INCONSISTENT,
    EXIT_OK,
    Env,
    SecretMeta,
    UrlCheck,
    abandon_command,
    check_url,
    describe,
    guard_settings,
    read_version,
    render_table,
)
from .cli_repair import ROLLBACK_LABEL
from .diagnosis import Problem, grace_line, in_grace, next_rotation, ranked, seconds_since_flip

_STAGE_ORDER = {CURRENT: 0, PENDING: 1, PREVIOUS: 2}


@dataclass
class VersionFacts:
    version_id: str
    stages: list[str]
    secret: DbSecret | None = None
    error: str | None = None
    login: str | None = None  # yes / no / n/a / error; None when not checked

    @property
    def user(self) -> str | None:
        return self.secret.username if self.secret else None

    @property
    def color(self) -> Color | None:
        return self.secret.color if self.secret else None


@dataclass
class UrlFacts:
    color: Color
    role: Role
    name: str
    expected_user: str
    check: UrlCheck
    matches: str | None = None  # the stage whose credentials the URL holds (AWSCURRENT, ...), if any
    login: str | None = None  # yes / no / error; checked for the flag's color only


@dataclass
class StatusReport:
    meta: SecretMeta
    names: ParameterNames
    grace_seconds: int
    session_policy: str
    checked_db: bool
    now: datetime
    settings_source: str = "this shell"
    versions: list[VersionFacts] = field(default_factory=list)
    mirror: MirrorState | None = None
    urls: list[UrlFacts] = field(default_factory=list)
    master_user: str | None = None
    sessions: dict[str, int] = field(default_factory=dict)
    since_flip: float | None = None
    next_rotation: str = ""
    next_rotation_allowed: bool | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def stage(self, stage: str) -> VersionFacts | None:
        return next((v for v in self.versions if stage in v.stages), None)

    @property
    def current(self) -> DbSecret | None:
        facts = self.stage(CURRENT)
        return facts.secret if facts else None

    @property
    def pending(self) -> VersionFacts | None:
        """The unfinished rotation's version (AWSPENDING not on AWSCURRENT), if any."""
        vid = self.meta.stuck_pending
        return next((v for v in self.versions if v.version_id == vid), None) if vid else None

    def urls_of(self, color: Color) -> list[UrlFacts]:
        return [u for u in self.urls if u.color == color]

    @property
    def verdict(self) -> str:
        if not self.problems:
            return "consistent"
        first = self.problems[0]
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{first.severity}: {first.message}{more} -> {first.fix}"

    @property
    def exit_code(self) -> int:
        if any(p.kind == "inconsistent" for p in self.problems):
            return EXIT_INCONSISTENT
        if self.problems:
            return EXIT_FAILURE
        return EXIT_OK


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
    _gather_urls(report, mirror, current)
    if check_db:
        _check_database(report, env, current)
    _diagnose(report, env, mirror, current)
    _forecast(report, mirror, current)
    report.problems = ranked(report.problems)
    return report


# -- facts ------------------------------------------------------------------------------------------


def _expected_for(report: StatusReport, color: Color, current: DbSecret) -> list[tuple[str, DbSecret]]:
    """The versions whose credentials a color's URLs may rightly hold, in order of preference."""
    if color == current.color:
        return [(CURRENT, current)]
    found: list[tuple[str, DbSecret]] = []
    for stage, facts in ((PREVIOUS, report.stage(PREVIOUS)), (PENDING, report.pending)):
        if facts and facts.secret and facts.secret.color == color and facts.secret.same_pair(current):
            found.append((stage, facts.secret))
    return found


def _gather_urls(report: StatusReport, mirror: MirrorState, current: DbSecret) -> None:
    for color in COLORS:
        user = current.username_of(color)
        candidates = _expected_for(report, color, current)
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
            report.urls.append(UrlFacts(color, role, report.names.url(color, role), user, check, matches))


def _check_database(report: StatusReport, env: Env, current: DbSecret) -> None:
    """Sessions per user (as the master user); then whether AWSCURRENT, AWSPREVIOUS, the unfinished
    AWSPENDING and the URLs the flag names log in."""
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
            with Admin.open(
                env.endpoint(master.host, master.port), master.username, master.password
            ) as admin:
                for color in COLORS:
                    user = current.username_of(color)
                    report.sessions[user] = admin.count_sessions(user)
                _check_reproducible(report, admin, current)
        except DatabaseError as exc:
            if exc.code == database.ACCESS_DENIED:
                report.problems.append(
                    Problem(
                        "unchecked",
                        f"the master user {master.username!r} (from {current.masterarn}) "
                        f"is denied access: {exc}",
                        "the master secret's password no longer matches the database: see the runbook, "
                        "'Access denied for the master user'",
                    )
                )
            else:
                report.problems.append(_unreachable(exc))
                return  # every other connection would fail the same way
    tried: dict[tuple[str, int, str, str], bool] = {}

    def login(host: str, port: int, user: str, password: str) -> str:
        """One login per host and credentials: a URL holding a version's is not tried again."""
        key = (host, port, user, password)
        if key not in tried:
            tried[key] = database.can_login(env.endpoint(host, port), user, password)
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
    """What setSecret would refuse to copy from AWSCURRENT's user to its partner (issue 10)."""
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


# -- problems ---------------------------------------------------------------------------------------


def _diagnose(report: StatusReport, env: Env, mirror: MirrorState, current: DbSecret) -> None:
    sid = env.sid
    current_facts = report.stage(CURRENT)
    previous = report.stage(PREVIOUS)
    pending = report.pending
    stuck = report.meta.stuck_pending
    other = other_color(current.color)
    flag_name = report.names.flag
    grace = in_grace(mirror, report.now, report.grace_seconds)
    previous_other = (
        previous is not None
        and previous.secret is not None
        and previous.secret.color == other
        and previous.secret.same_pair(current)
    )
    pending_works = pending is not None and pending.login == "yes"
    repair = f"`bluegreen repair --secret-id {sid}`"
    retry = f"`{env.rotate_command(stuck)}`" if stuck else ""

    # outage: AWSCURRENT itself
    if current_facts is not None and current_facts.login == "no":
        if pending is not None and pending_works and pending.color == other:
            fix = f"finish rotation {stuck}, whose {other} password logs in, so consumers move to it: {retry}"
        elif previous_other and previous is not None and previous.login == "yes" and not stuck:
            # --force: AWSCURRENT may be where an earlier rollback put it (rollback refuses to undo
            # one without it); going back is right here, since AWSCURRENT no longer logs in.
            force = " --force" if ROLLBACK_LABEL in current_facts.stages else ""
            fix = (
                f"go back to AWSPREVIOUS ({other}), which logs in: "
                f"`bluegreen rollback{force} --secret-id {sid}`"
            )
        else:
            fix = f"{repair} sets {current.username!r}'s password back to AWSCURRENT's (as the master user)"
        report.problems.append(
            Problem(
                "outage",
                f"AWSCURRENT's password does not log in as {current.username!r}: the database and the "
                "secret disagree (was the password changed outside the rotation?); consumers reading "
                "AWSCURRENT fail",
                fix,
            )
        )

    # the flag
    has_urls = any(mirror.url(c, r) for c in COLORS for r in ROLES)
    if mirror.flag_value is None:
        if has_urls:
            report.problems.append(
                Problem(
                    "outage",
                    f"{flag_name} does not exist: consumers cannot tell which color to use",
                    f"`bluegreen adopt --secret-id {sid}` (flag -> AWSCURRENT's color, {current.color})",
                )
            )
        elif previous is not None or report.meta.last_rotated is not None:
            # Rotated before, yet nothing under this prefix: far likelier the wrong prefix than a lost
            # mirror, and adopting here would start a second mirror nobody reads.
            report.problems.append(
                Problem(
                    "unchecked",
                    f"no flag and no URLs under {report.names.prefix} although the secret has been rotated: "
                    "the function probably writes under another prefix (its PARAMETER_PREFIX, or the "
                    "secret's parameterPrefix)",
                    "re-run with the function's prefix: `bluegreen status --parameter-prefix <prefix> "
                    f"--secret-id {sid}` (only if the mirror really is lost: `bluegreen adopt "
                    f"--parameter-prefix {report.names.prefix} --secret-id {sid}`)",
                )
            )
            return  # every other mirror check would only repeat "missing" under the wrong prefix
        else:
            report.problems.append(
                Problem(
                    "cosmetic",
                    f"{flag_name} does not exist: the secret was never adopted (consumers cannot use the "
                    "layer until the mirror exists)",
                    f"`bluegreen adopt --secret-id {sid}`",
                )
            )
    elif mirror.flag_corrupt:
        report.problems.append(
            Problem(
                "outage",
                f"{flag_name} holds {mirror.flag_value!r}, not blue or green: consumers cannot pick a color",
                f"`bluegreen adopt --force --secret-id {sid}` (flag -> AWSCURRENT's color, {current.color})",
            )
        )
    flag = mirror.flag
    flag_urls = report.urls_of(flag) if flag else []

    # outage: the flag's URLs
    bad_flag_urls = [
        u for u in flag_urls if u.login == "no" or (u.login is None and not u.check.ok and not u.matches)
    ]
    if flag is not None and bad_flag_urls and not (flag == current.color and _explained(report, current)):
        where = ", ".join(f"{u.role}: {_url_state(u)}" for u in bad_flag_urls)
        if flag == current.color:
            fix = f"{repair} rewrites {flag}'s URLs from AWSCURRENT"
        elif current_facts is not None and current_facts.login != "no":
            fix = (
                f"move the flag to AWSCURRENT ({current.color}), which logs in: "
                f"`bluegreen adopt --force --secret-id {sid}`"
            )
        else:
            fix = f"{repair}, then `bluegreen adopt --force --secret-id {sid}`"
        report.problems.append(
            Problem(
                "outage",
                f"the flag names {flag} but {flag}'s URLs do not log in ({where}): consumers following "
                "the flag cannot connect",
                fix,
            )
        )
    elif flag == current.color:
        bad = [u for u in flag_urls if not u.check.ok]
        if bad:  # they log in (or were not checked) but are not AWSCURRENT's
            where = ", ".join(f"{u.role}: {_url_state(u)}" for u in bad)
            report.problems.append(
                Problem(
                    "at-risk",
                    f"{flag}'s URLs (AWSCURRENT's color) are not AWSCURRENT's credentials ({where})",
                    f"{repair} rewrites them from AWSCURRENT",
                )
            )

    # the flag names the other color
    if flag is not None and flag != current.color:
        message = (
            f"the flag names {flag} ({current.username_of(flag)}) but AWSCURRENT is {current.color} "
            f"({current.username}): consumers use {flag}'s URLs"
        )
        keep = f"`bluegreen adopt --force --secret-id {sid}` (flag -> {current.color}, AWSCURRENT)"
        on_pending = (
            pending is not None
            and pending.secret is not None
            and pending.color == flag
            and all(u.matches == PENDING for u in flag_urls)
        )
        if on_pending:
            works = "which logs in" if pending_works else "whose login was not checked"
            message += (
                f"; rotation {stuck} stopped after writing {flag}'s URLs and the flag: consumers are on "
                f"the pending password, {works}"
            )
            fix = f"finish it: {retry} (or put the flag back: {keep})"
        elif previous_other and previous is not None and previous.color == flag:
            fix = (
                f"keep AWSCURRENT: {keep}; or go back to AWSPREVIOUS ({flag}): "
                f"`bluegreen rollback --force --secret-id {sid}`"
            )
        else:
            fix = keep
        report.problems.append(Problem("blocked", message, fix))

    # at-risk / cosmetic: the other color, while consumers may still be on it
    if flag != other:
        _check_other_color(report, env, current, other, grace)

    # blocked: an unfinished rotation
    if stuck is not None and not (flag == other and pending is not None and pending.color == flag):
        what = f" for {pending.user} ({pending.color})" if pending and pending.secret else ""
        if (
            pending is not None
            and pending.error
            and pending.secret is None
            and "no value yet" not in pending.error
        ):
            what = f" ({pending.error})"
        logs = report.meta.logs_hint("1h")
        report.problems.append(
            Problem(
                "blocked",
                f"rotation {stuck}{what} has not finished: AWSPENDING is on a version that is not AWSCURRENT "
                "(still running, or failed and waiting for a retry); no other rotation can start",
                f"if it failed, read why in {logs}; once fixed, retry it with {retry}, or abandon it with "
                f"`{abandon_command(report.meta.arn, stuck)}`",
            )
        )

    if previous is not None and previous.login == "n/a":
        report.notes.append(
            "rollback is unavailable: AWSPREVIOUS is an older password of the same user "
            f"{current.username!r}, not the other color"
        )


def _explained(report: StatusReport, current: DbSecret) -> bool:
    """The flag's URLs hold AWSCURRENT's credentials and AWSCURRENT itself does not log in (reported)."""
    facts = report.stage(CURRENT)
    return (
        facts is not None
        and facts.login == "no"
        and all(u.matches == CURRENT for u in report.urls_of(current.color))
    )


def _url_state(u: UrlFacts) -> str:
    if u.login == "no" and u.check.ok:
        return "does not log in"
    detail = f" ({u.check.detail})" if u.check.detail else ""
    return f"{u.check.state}{detail}" + (", does not log in" if u.login == "no" else "")


def _check_other_color(report: StatusReport, env: Env, current: DbSecret, other: Color, grace: bool) -> None:
    """The color off the flag: its URLs and AWSPREVIOUS's login, which matter while consumers may
    still use it (in grace: at-risk) and for a rollback (after: cosmetic)."""
    previous = report.stage(PREVIOUS)
    pending = report.pending
    if pending is not None and pending.color == other:
        return  # an unfinished rotation owns this color's password and URLs (reported as blocked)
    previous_other = previous is not None and previous.secret is not None and previous.color == other
    severity: Any = "at-risk" if grace else "cosmetic"
    consequence = (
        f"consumers that have not moved off {other} yet cannot reconnect"
        if grace
        else "a rollback is impossible until it is repaired"
    )
    repair = f"`bluegreen repair --secret-id {env.sid}`"
    if previous_other and previous is not None and previous.login == "no":
        report.problems.append(
            Problem(
                severity,
                f"AWSPREVIOUS's password does not log in as {previous.user!r} ({other}): it was changed "
                f"outside the rotation; {consequence}",
                f"{repair} sets it back to AWSPREVIOUS's (as the master user)",
            )
        )
    urls = report.urls_of(other)
    bad = [u for u in urls if not u.check.ok]
    if not bad:
        return
    if not previous_other and all(u.check.state == "missing" for u in bad):
        report.notes.append(f"{other} has no URLs yet: the first rotation writes them")
        return
    where = ", ".join(f"{u.role}: {_url_state(u)}" for u in bad)
    fix = (
        f"{repair} rewrites them from AWSPREVIOUS"
        if previous_other
        else (f"the next rotation writes them: `{env.rotate_command()}`")
    )
    report.problems.append(
        Problem(
            severity,
            f"{other}'s URLs do not hold AWSPREVIOUS's credentials for "
            f"{current.username_of(other)} ({where}); "
            f"{consequence}",
            fix,
        )
    )


def _forecast(report: StatusReport, mirror: MirrorState, current: DbSecret) -> None:
    """The Next line: what setSecret will say to a rotation started now (the function's own guards)."""
    target_user = current.username_of(other_color(current.color))
    sessions = report.sessions.get(target_user) if report.checked_db else None
    forecast = next_rotation(
        current,
        mirror,
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


# -- rendering -------------------------------------------------------------------------------------


def to_document(report: StatusReport) -> dict[str, Any]:
    mirror = report.mirror
    meta = report.meta
    return {
        "secret": {
            "arn": meta.arn,
            "name": meta.state.name,
            "rotationEnabled": meta.state.rotation_enabled,
            "rotationLambdaArn": meta.rotation_lambda_arn,
            "lastRotatedDate": meta.last_rotated,
            "nextRotationDate": meta.next_rotation,
            "versions": [
                {
                    "versionId": v.version_id,
                    "stages": v.stages,
                    "user": v.user,
                    "color": v.color,
                    "logsIn": v.login,
                    "error": v.error,
                }
                for v in report.versions
            ],
        },
        "parameterPrefix": report.names.prefix,
        "flag": {
            "name": report.names.flag,
            "value": mirror.flag_value if mirror else None,
            "version": mirror.flag_version if mirror else None,
            "lastModifiedDate": mirror.flag_modified if mirror else None,
            "secondsSinceFlip": round(report.since_flip) if report.since_flip is not None else None,
        },
        "urls": [
            {
                "color": u.color,
                "role": u.role,
                "name": u.name,
                "url": u.check.redacted,
                "user": u.check.user,
                "expectedUser": u.expected_user,
                "matchesColorUser": u.check.user == u.expected_user,
                "state": u.check.state,
                "detail": u.check.detail,
                "holds": u.matches,
                "logsIn": u.login,
            }
            for u in report.urls
        ],
        "sessions": (
            {"masterUser": report.master_user, "byUser": dict(report.sessions)} if report.checked_db else None
        ),
        "grace": {
            "rotationGraceSeconds": report.grace_seconds,
            "secondsSinceFlip": round(report.since_flip) if report.since_flip is not None else None,
            "activeSessionPolicy": report.session_policy,
            "settingsFrom": report.settings_source,
            "line": grace_line(mirror, report.now, report.grace_seconds) if mirror else None,
            "nextRotation": report.next_rotation,
            "nextRotationAllowed": report.next_rotation_allowed,
        },
        "problems": [p.as_dict() for p in report.problems],
        "notes": report.notes,
        "consistent": not report.problems,
        "severity": report.problems[0].severity if report.problems else None,
        "verdict": report.verdict,
        "fix": report.problems[0].fix if report.problems else None,
        "exitStatus": report.exit_code,
    }


def to_table(report: StatusReport) -> list[str]:
    meta = report.meta
    mirror = report.mirror
    current = report.current
    lines = [f"Secret    {meta.state.name}  {meta.arn}"]
    rotated = meta.last_rotated.isoformat(timespec="seconds") if meta.last_rotated else "never"
    lines.append(
        f"Rotation  enabled: {'yes' if meta.state.rotation_enabled else 'no'}   last rotated: {rotated}"
    )
    lines.append("")
    rows = []
    for v in report.versions:
        rows.append(
            [
                v.version_id,
                ",".join(v.stages),
                v.user or "-",
                v.color or "-",
                v.login or ("-" if report.checked_db else "not checked"),
                v.error or "",
            ]
        )
    lines += render_table(["VERSION", "STAGES", "USER", "COLOR", "LOGS IN", "NOTE"], rows)
    lines.append("")
    if mirror is not None:
        if mirror.flag_value is None:
            flag = "missing"
        else:
            modified = mirror.flag_modified.isoformat(timespec="seconds") if mirror.flag_modified else "?"
            flag = f"{mirror.flag_value}  (version {mirror.flag_version}, modified {modified})"
        lines.append(f"Flag      {report.names.flag} = {flag}")
    lines.append("")
    url_rows = [
        [
            u.color,
            u.role,
            u.check.user or "-",
            "yes" if u.check.user == u.expected_user else "no",
            u.check.state,
            u.matches or "-",
            u.login or "-",
            u.check.redacted or "-",
        ]
        for u in report.urls
    ]
    if url_rows:
        lines += render_table(
            ["COLOR", "ROLE", "USER", "MATCHES", "STATE", "HOLDS", "LOGS IN", "URL"], url_rows
        )
        lines.append("")
    if report.checked_db and current is not None:
        session_rows = [
            [current.username_of(c), c, str(report.sessions[current.username_of(c)])]
            for c in COLORS
            if current.username_of(c) in report.sessions
        ]
        if session_rows:
            lines += render_table(["USER", "COLOR", "SESSIONS"], session_rows)
            lines.append(f"(counted as the master user {report.master_user!r})")
            lines.append("")
    if mirror is not None:
        grace = grace_line(mirror, report.now, report.grace_seconds)
        lines.append(f"Grace     {grace} (from {report.settings_source})")
    if report.next_rotation:
        lines.append(f"Next      rotation {report.next_rotation}")
    for note in report.notes:
        lines.append(f"Note      {note}")
    for problem in report.problems[1:]:
        lines.append(f"Problem   {problem.severity}: {problem.message} -> {problem.fix}")
    lines.append(f"Verdict   {report.verdict}")
    return lines
