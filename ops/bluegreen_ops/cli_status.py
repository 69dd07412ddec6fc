"""``bluegreen status``: read everything a rotation depends on and say whether it is consistent.

Facts are gathered read-only (DescribeSecret, one GetSecretValue per staged version, one
GetParameters for the mirror, one master connection to count sessions, one login per color) and
turned into a list of problems, each with the command that fixes it. The first problem is the
verdict; none means ``consistent``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from bluegreen_db.naming import COLORS, ROLES, Color, ParameterNames, Role, other_color
from bluegreen_rotation import database, guards
from bluegreen_rotation.database import Admin
from bluegreen_rotation.errors import DatabaseError, InvalidInputError, RotationRefusedError
from bluegreen_rotation.guards import GuardInput
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
    format_duration,
    read_version,
    render_table,
)

ProblemKind = Literal["inconsistent", "error"]
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


@dataclass
class Problem:
    kind: ProblemKind
    message: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "fix": self.fix}


@dataclass
class StatusReport:
    meta: SecretMeta
    names: ParameterNames
    grace_seconds: int
    session_policy: str
    checked_db: bool
    versions: list[VersionFacts] = field(default_factory=list)
    mirror: MirrorState | None = None
    urls: list[UrlFacts] = field(default_factory=list)
    master_user: str | None = None
    sessions: dict[str, int] = field(default_factory=dict)
    since_flip: float | None = None
    next_rotation: str = ""
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def stage(self, stage: str) -> VersionFacts | None:
        return next((v for v in self.versions if stage in v.stages), None)

    @property
    def current(self) -> DbSecret | None:
        facts = self.stage(CURRENT)
        return facts.secret if facts else None

    @property
    def verdict(self) -> str:
        if not self.problems:
            return "consistent"
        first = self.problems[0]
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{first.message}{more} -> {first.fix}"

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
    report = StatusReport(
        meta=meta,
        names=env.names_for(None),
        grace_seconds=env.settings.rotation_grace_seconds,
        session_policy=env.settings.active_session_policy,
        checked_db=check_db,
    )
    for vid, stages in meta.staged_versions():
        facts = VersionFacts(vid, sorted(stages, key=lambda s: (_STAGE_ORDER.get(s, 3), s)))
        try:
            facts.secret = read_version(env, meta, vid, f"version {vid}")
            if facts.secret is None:
                facts.error = "no value yet (createSecret has not run)"
        except InvalidInputError as exc:
            facts.error = str(exc)
        report.versions.append(facts)

    sid = shlex.quote(env.secret_id)
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
                "inconsistent",
                f"AWSCURRENT cannot be used: {why}",
                f"put a valid value: `aws secretsmanager put-secret-value --secret-id {sid} "
                "--secret-string file://secret.json`",
            )
        )
        report.mirror = env.mirror_for(None).read()
        return report

    report.names = env.names_for(current)
    mirror = env.mirror_for(current).read()
    report.mirror = mirror
    previous = report.stage(PREVIOUS)
    _check_pending(report, sid)
    _check_flag(report, mirror, current, sid)
    _check_urls(report, mirror, current, previous.secret if previous else None, sid)
    if check_db:
        _check_database(report, env, current, previous)
    _grace(report, mirror, current, now)
    return report


def _check_pending(report: StatusReport, sid: str) -> None:
    vid = report.meta.stuck_pending
    if vid is None:
        return
    pending = report.stage(PENDING)
    what = f" for {pending.user} ({pending.color})" if pending and pending.secret else ""
    logs = report.meta.logs_hint("1h")
    report.problems.append(
        Problem(
            "inconsistent",
            f"rotation {vid}{what} has not finished: AWSPENDING is on a version that is not AWSCURRENT "
            "(still running, or failed and waiting for a retry); no other rotation can start",
            f"if it failed, read why in {logs}; once fixed, retry it with "
            f"`bluegreen rotate-now --secret-id {sid} --token {vid}`, or abandon it with "
            f"`{abandon_command(report.meta.arn, vid)}`",
        )
    )


def _check_flag(report: StatusReport, mirror: MirrorState, current: DbSecret, sid: str) -> None:
    flag_name = report.names.flag
    if mirror.flag_value is None:
        has_urls = any(mirror.url(current.color, role) for role in ROLES)
        report.problems.append(
            Problem(
                "inconsistent",
                f"{flag_name} does not exist" + ("" if has_urls else ": the secret was never adopted"),
                f"`bluegreen adopt --secret-id {sid}`",
            )
        )
        return
    if mirror.flag_corrupt:
        report.problems.append(
            Problem(
                "inconsistent",
                f"{flag_name} holds {mirror.flag_value!r}, not blue or green",
                f"`bluegreen adopt --force --secret-id {sid}` (flag -> AWSCURRENT's color, {current.color})",
            )
        )
        return
    flag = mirror.flag
    if flag is None or flag == current.color:
        return
    message = (
        f"the flag names {flag} ({current.username_of(flag)}) but AWSCURRENT is {current.color} "
        f"({current.username}): consumers use {flag}'s URLs"
    )
    pending = report.stage(PENDING)
    previous = report.stage(PREVIOUS)
    keep = f"`bluegreen adopt --force --secret-id {sid}` (flag -> {current.color}, AWSCURRENT)"
    finish_stopped = (
        report.meta.stuck_pending is not None
        and pending is not None
        and pending.secret is not None
        and pending.color == flag
        and all(check_url(mirror.url(flag, r), pending.secret.username, r, pending.secret).ok for r in ROLES)
    )
    if finish_stopped:
        message += f"; rotation {report.meta.stuck_pending} stopped after flipping the flag"
        fix = (
            f"retry it: `bluegreen rotate-now --secret-id {sid} --token {report.meta.stuck_pending}`, "
            f"or put the flag back: {keep}"
        )
    elif previous and previous.color == flag:
        fix = (
            f"keep AWSCURRENT: {keep}; or go back to AWSPREVIOUS ({flag}): "
            f"`bluegreen rollback --force --secret-id {sid}`"
        )
    else:
        fix = keep
    report.problems.append(Problem("inconsistent", message, fix))


def _check_urls(
    report: StatusReport, mirror: MirrorState, current: DbSecret, previous: DbSecret | None, sid: str
) -> None:
    for color in COLORS:
        expected: DbSecret | None = None
        if current.color == color:
            expected = current
        elif previous is not None and previous.color == color and previous.same_pair(current):
            expected = previous
        user = current.username_of(color)
        for role in ROLES:
            check = check_url(mirror.url(color, role), user, role, expected)
            report.urls.append(UrlFacts(color, role, report.names.url(color, role), user, check))
        checks = [u.check for u in report.urls if u.color == color]
        bad = [c for c in checks if not c.ok]
        if not bad:
            continue
        where = ", ".join(sorted({f"{c.state}: {c.detail}" for c in bad}))
        if color == current.color:
            report.problems.append(
                Problem(
                    "inconsistent",
                    f"{color}'s URLs (AWSCURRENT's color) are not AWSCURRENT's credentials ({where})",
                    f"`bluegreen adopt --secret-id {sid}` rewrites them from AWSCURRENT",
                )
            )
        elif all(c.state == "missing" for c in bad) and expected is None:
            report.notes.append(f"{color} has no URLs yet: the first rotation writes them")
        else:
            report.problems.append(
                Problem(
                    "inconsistent",
                    f"{color}'s URLs do not hold {user}'s credentials ({where}); consumers still on "
                    f"{color} cannot reconnect",
                    "the next rotation rewrites them with a new password: "
                    f"`bluegreen rotate-now --secret-id {sid}`",
                )
            )


def _check_database(report: StatusReport, env: Env, current: DbSecret, previous: VersionFacts | None) -> None:
    """Sessions per user (as the master user), then whether AWSCURRENT and AWSPREVIOUS log in."""
    sid = shlex.quote(env.secret_id)
    try:
        master = env.master(current)
    except InvalidInputError as exc:
        report.problems.append(
            Problem("error", f"cannot count sessions: {exc}", "fix the master secret named by 'masterarn'")
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
                        "error",
                        f"the master user {master.username!r} (from {current.masterarn}) "
                        f"is denied access: {exc}",
                        "the master secret's password no longer matches the database: see the runbook, "
                        "'Access denied for the master user'",
                    )
                )
            else:
                report.problems.append(_unreachable(exc))
                return  # every other connection would fail the same way

    current_facts = report.stage(CURRENT)
    candidates = [f for f in (current_facts, previous) if f is not None]
    for facts in candidates:
        secret = facts.secret
        if secret is None:
            continue
        if facts is previous and secret.username == current.username:
            facts.login = "n/a"
            report.notes.append(
                "rollback is unavailable: AWSPREVIOUS is an older password of the same user "
                f"{secret.username!r}, not the other color"
            )
            continue
        try:
            ok = database.can_login(env.endpoint(secret.host, secret.port), secret.username, secret.password)
        except DatabaseError as exc:
            facts.login = "error"
            report.problems.append(_unreachable(exc))
            return
        facts.login = "yes" if ok else "no"
        if ok:
            continue
        if facts is current_facts:
            back = (
                f"`bluegreen rollback --secret-id {sid}` if AWSPREVIOUS logs in, else "
                if previous is not None and previous.login != "no"
                else ""
            )
            report.problems.append(
                Problem(
                    "inconsistent",
                    f"AWSCURRENT's password does not log in as {secret.username!r}: the database and the "
                    "secret disagree (was the password changed outside the rotation?)",
                    f"{back}give consumers the other color with a new password: "
                    f"`bluegreen rotate-now --secret-id {sid}`",
                )
            )
        else:
            report.notes.append(
                f"rollback is unavailable: AWSPREVIOUS no longer logs in as {secret.username!r}"
            )


def _check_reproducible(report: StatusReport, admin: Admin, current: DbSecret) -> None:
    """What setSecret would refuse to copy from AWSCURRENT's user to its partner (issue 10)."""
    state = admin.account_states(current.username)[current.username]
    for problem in admin.unreproducible(state) if state is not None else []:
        message, _, fix = problem.partition("; fix: ")
        report.problems.append(
            Problem("inconsistent", f"the next setSecret will refuse: {message}", fix or "see the message")
        )


def _unreachable(exc: DatabaseError) -> Problem:
    return Problem(
        "error",
        f"database check failed: {exc}",
        "check network access and DB_TLS_MODE/DB_TLS_CA_FILE (runbook: TLS failures), "
        "or skip the database checks with --skip-db",
    )


def _grace(report: StatusReport, mirror: MirrorState, current: DbSecret, now: datetime) -> None:
    if mirror.flag is not None and mirror.flag_modified is not None and mirror.flag_version != 1:
        report.since_flip = (now - mirror.flag_modified).total_seconds()
    target = other_color(current.color)
    target_user = current.username_of(target)
    try:
        guards.check_not_in_use(
            GuardInput(
                target_color=target,
                target_user=target_user,
                current_user=current.username,
                mirror=mirror,
                now=now,
                grace_seconds=report.grace_seconds,
            )
        )
    except RotationRefusedError as exc:
        report.next_rotation = f"would be refused: {exc}"
        return
    sessions = report.sessions.get(target_user, 0)
    if sessions and report.session_policy == "fail":
        report.next_rotation = (
            f"would be refused: {target_user!r} has {sessions} live session(s) (ACTIVE_SESSION_POLICY=fail)"
        )
    elif report.meta.stuck_pending:
        report.next_rotation = "blocked until the unfinished rotation completes or is abandoned"
    else:
        report.next_rotation = f"allowed: gives {target} ({target_user}) a new password"


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
            }
            for u in report.urls
        ],
        "sessions": (
            {"masterUser": report.master_user, "byUser": dict(report.sessions)} if report.checked_db else None
        ),
        "grace": {
            "rotationGraceSeconds": report.grace_seconds,
            "secondsSinceFlip": round(report.since_flip) if report.since_flip is not None else None,
            "nextRotation": report.next_rotation,
        },
        "problems": [p.as_dict() for p in report.problems],
        "notes": report.notes,
        "consistent": not report.problems,
        "verdict": report.verdict,
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
            u.check.redacted or "-",
        ]
        for u in report.urls
    ]
    if url_rows:
        lines += render_table(["COLOR", "ROLE", "USER", "MATCHES", "STATE", "URL"], url_rows)
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
    if report.since_flip is not None:
        since = f"the flag last moved {format_duration(report.since_flip)} ago"
    else:
        since = "the flag has not moved since it was created"
    lines.append(f"Grace     {since}; ROTATION_GRACE_SECONDS={report.grace_seconds}")
    if report.next_rotation:
        lines.append(f"Next      rotation {report.next_rotation}")
    for note in report.notes:
        lines.append(f"Note      {note}")
    for problem in report.problems[1:]:
        lines.append(f"Problem   {problem.message} -> {problem.fix}")
    lines.append(f"Verdict   {report.verdict}")
    return lines
