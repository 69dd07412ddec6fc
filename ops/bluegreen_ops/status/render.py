"""``bluegreen status``'s report as the JSON document (docs/cli-json.md) and as the table; a fleet's
(``status --all``) as one document holding every secret's, and as one line per secret."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bluegreen_db.naming import COLORS
from bluegreen_rotation.mirror import MirrorState

from .diagnosis import grace_line, seconds_since_flip
from .fleet import FleetReport
from .report import StatusReport, UrlFacts


def to_document(report: StatusReport) -> dict[str, Any]:
    mirror = report.mirror
    meta = report.meta
    document = {
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
        "flag": _flag_document(report, mirror, report.since_flip),
        "urls": [_url_document(u) for u in report.urls],
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
    if report.regions:
        document["regions"] = [
            {
                "region": r.region,
                "primary": r.primary,
                "flag": _flag_document(report, r.mirror, seconds_since_flip(r.mirror, report.now))
                if r.mirror
                else None,
                "urls": [_url_document(u) for u in r.urls],
                "error": r.error,
            }
            for r in report.regions
        ]
    return document


def _flag_document(report: StatusReport, mirror: MirrorState | None, since: float | None) -> dict[str, Any]:
    return {
        "name": report.names.flag,
        "value": mirror.flag_value if mirror else None,
        "version": mirror.flag_version if mirror else None,
        "lastModifiedDate": mirror.flag_modified if mirror else None,
        "secondsSinceFlip": round(since) if since is not None else None,
    }


def _url_document(u: UrlFacts) -> dict[str, Any]:
    return {
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
        lines.append(f"Flag      {report.names.flag} = {_flag_line(mirror)}")
    lines.append("")
    lines += _url_table(report.urls)
    for region in report.regions[1:]:
        where = f"Region    {region.region} (replica)"
        if region.mirror is None:
            lines += [f"{where}: not read: {region.error}", ""]
            continue
        lines += [f"{where}: flag = {_flag_line(region.mirror)}", ""]
        lines += _url_table(region.urls)
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


def _flag_line(mirror: MirrorState) -> str:
    if mirror.flag_value is None:
        return "missing"
    modified = mirror.flag_modified.isoformat(timespec="seconds") if mirror.flag_modified else "?"
    return f"{mirror.flag_value}  (version {mirror.flag_version}, modified {modified})"


def _url_table(urls: Sequence[UrlFacts]) -> list[str]:
    rows = [
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
        for u in urls
    ]
    if not rows:
        return []
    return [*render_table(["COLOR", "ROLE", "USER", "MATCHES", "STATE", "HOLDS", "LOGS IN", "URL"], rows), ""]


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def fleet_counts(fleet: FleetReport) -> dict[str, int]:
    """Secrets per outcome, named after the exit codes they stand for (0, 3, 1)."""
    counts = {"consistent": 0, "inconsistent": 0, "unchecked": 0}
    for entry in fleet.entries:
        counts[{0: "consistent", 3: "inconsistent"}.get(entry.exit_code, "unchecked")] += 1
    return counts


def to_fleet_document(fleet: FleetReport) -> dict[str, Any]:
    """One document for the whole fleet: a summary line per secret, each with its full report."""
    return {
        "selector": fleet.selector.as_dict(),
        "count": len(fleet.entries),
        "summary": fleet_counts(fleet),
        "consistent": all(not e.problems for e in fleet.entries),
        "secrets": [
            {
                "arn": e.member.arn,
                "name": e.member.name,
                "rotationLambdaArn": e.member.rotation_lambda_arn,
                "parameterPrefix": e.prefix,
                "color": e.color,
                "severity": e.severity,
                "verdict": e.summary,
                "fix": e.fix,
                "exitStatus": e.exit_code,
                "error": e.error,
                "report": to_document(e.report) if e.report is not None else None,
            }
            for e in fleet.entries
        ],
        "exitStatus": fleet.exit_code,
    }


def to_fleet_table(fleet: FleetReport) -> list[str]:
    rows = [[e.member.name, e.color or "-", e.summary, e.fix or ""] for e in fleet.entries]
    lines = render_table(["SECRET", "COLOR", "VERDICT", "FIX"], rows)
    counts = fleet_counts(fleet)
    lines.append("")
    lines.append(
        f"{len(fleet.entries)} secret(s) {fleet.selector.describe()}: {counts['consistent']} consistent, "
        f"{counts['inconsistent']} inconsistent, {counts['unchecked']} unchecked"
    )
    return lines
