"""The diagnosis rules of ``bluegreen status``: one function per rule, each with the command that fixes it.

A rule reads a :class:`Situation` (the gathered facts, plus what every rule derives from them) and
returns the one :class:`~.diagnosis.Problem` it finds, or None. :data:`RULES` lists them in the order
they are reported within a severity; :data:`NOTE_RULES` the remarks that are no problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bluegreen_db.naming import COLORS, ROLES, Color, other_color
from bluegreen_rotation.mirror import MirrorState
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.secrets_store import CURRENT, PENDING, PREVIOUS

from ..operations.errors import abandon_command
from ..operations.rollback import ROLLBACK_LABEL
from .diagnosis import Problem, Severity, in_grace
from .report import StatusReport, UrlFacts, VersionFacts


@dataclass(frozen=True)
class Situation:
    """The facts one diagnosis reads, and the commands its fixes name.

    ``rotate_command(token)`` is the rotate-now command line for this secret (``--local`` on an
    emulator), so the rules need no clients.
    """

    report: StatusReport
    current: DbSecret
    mirror: MirrorState
    sid: str
    rotate_command: Callable[[str | None], str]

    @property
    def current_facts(self) -> VersionFacts | None:
        return self.report.stage(CURRENT)

    @property
    def previous(self) -> VersionFacts | None:
        return self.report.stage(PREVIOUS)

    @property
    def pending(self) -> VersionFacts | None:
        return self.report.pending

    @property
    def stuck(self) -> str | None:
        return self.report.meta.stuck_pending

    @property
    def other(self) -> Color:
        return other_color(self.current.color)

    @property
    def flag(self) -> Color | None:
        return self.mirror.flag

    @property
    def flag_urls(self) -> list[UrlFacts]:
        return self.report.urls_of(self.flag) if self.flag else []

    @property
    def grace(self) -> bool:
        """Consumers may still use the color that left the flag (the grace guard's own rule)."""
        return in_grace(self.mirror, self.report.now, self.report.grace_seconds)

    @property
    def previous_is_partner(self) -> bool:
        """AWSPREVIOUS is the other color of the same blue/green pair: what a rollback goes back to."""
        previous = self.previous
        return (
            previous is not None
            and previous.secret is not None
            and previous.secret.color == self.other
            and previous.secret.same_pair(self.current)
        )

    @property
    def pending_works(self) -> bool:
        return self.pending is not None and self.pending.login == "yes"

    @property
    def pending_owns_other(self) -> bool:
        """An unfinished rotation owns the other color's password and URLs (reported as blocked)."""
        return self.pending is not None and self.pending.color == self.other

    @property
    def repair(self) -> str:
        return f"`bluegreen repair --secret-id {self.sid}`"

    @property
    def retry(self) -> str:
        return f"`{self.rotate_command(self.stuck)}`" if self.stuck else ""

    @property
    def adopt_force(self) -> str:
        return f"`bluegreen adopt --force --secret-id {self.sid}`"

    def has_urls(self) -> bool:
        return any(self.mirror.url(c, r) for c in COLORS for r in ROLES)

    def previously_rotated(self) -> bool:
        return self.previous is not None or self.report.meta.last_rotated is not None

    def other_color_urls_off(self) -> list[UrlFacts]:
        """The other color's URLs that do not hold AWSPREVIOUS's credentials, when they matter.

        Empty while consumers are on that color (the flag rules cover it) or a rotation owns it.
        """
        if self.flag == self.other or self.pending_owns_other:
            return []
        return [u for u in self.report.urls_of(self.other) if not u.check.ok]

    def other_color_never_written(self) -> bool:
        """The other color's URLs are all missing and no AWSPREVIOUS of that color exists yet."""
        bad = self.other_color_urls_off()
        previous = self.previous
        has_previous = previous is not None and previous.secret is not None and previous.color == self.other
        return bool(bad) and not has_previous and all(u.check.state == "missing" for u in bad)


Rule = Callable[[Situation], Problem | None]
NoteRule = Callable[[Situation], str | None]


def url_state(u: UrlFacts) -> str:
    """One URL's problem as the operator reads it: its check state, and whether it logs in."""
    if u.login == "no" and u.check.ok:
        return "does not log in"
    detail = f" ({u.check.detail})" if u.check.detail else ""
    return f"{u.check.state}{detail}" + (", does not log in" if u.login == "no" else "")


def _where(urls: list[UrlFacts]) -> str:
    return ", ".join(f"{u.role}: {url_state(u)}" for u in urls)


# -- outage: AWSCURRENT itself ----------------------------------------------------------------------


def current_password_rejected(s: Situation) -> Problem | None:
    """AWSCURRENT's password does not log in: everyone reading AWSCURRENT fails now."""
    current_facts, previous, pending = s.current_facts, s.previous, s.pending
    if current_facts is None or current_facts.login != "no":
        return None
    if pending is not None and s.pending_works and pending.color == s.other:
        fix = (
            f"finish rotation {s.stuck}, whose {s.other} password logs in, so consumers move to it: {s.retry}"
        )
    elif s.previous_is_partner and previous is not None and previous.login == "yes" and not s.stuck:
        # --force: AWSCURRENT may be where an earlier rollback put it (rollback refuses to undo one
        # without it); going back is right here, since AWSCURRENT no longer logs in.
        force = " --force" if ROLLBACK_LABEL in current_facts.stages else ""
        fix = (
            f"go back to AWSPREVIOUS ({s.other}), which logs in: "
            f"`bluegreen rollback{force} --secret-id {s.sid}`"
        )
    else:
        fix = f"{s.repair} sets {s.current.username!r}'s password back to AWSCURRENT's (as the master user)"
    return Problem(
        "outage",
        f"AWSCURRENT's password does not log in as {s.current.username!r}: the database and the "
        "secret disagree (was the password changed outside the rotation?); consumers reading "
        "AWSCURRENT fail",
        fix,
    )


# -- the flag ---------------------------------------------------------------------------------------


def flag_missing(s: Situation) -> Problem | None:
    """No flag while URLs exist: consumers cannot tell which color to use."""
    if s.mirror.flag_value is not None or not s.has_urls():
        return None
    return Problem(
        "outage",
        f"{s.report.names.flag} does not exist: consumers cannot tell which color to use",
        f"`bluegreen adopt --secret-id {s.sid}` (flag -> AWSCURRENT's color, {s.current.color})",
    )


def mirror_under_another_prefix(s: Situation) -> Problem | None:
    """Rotated before, yet nothing under this prefix: far likelier the wrong prefix than a lost mirror.

    Adopting here would start a second mirror nobody reads, so the fix re-runs with the function's
    prefix first. When this rule fires, the other mirror rules would only repeat "missing".
    """
    if s.mirror.flag_value is not None or s.has_urls() or not s.previously_rotated():
        return None
    prefix = s.report.names.prefix
    return Problem(
        "unchecked",
        f"no flag and no URLs under {prefix} although the secret has been rotated: "
        "the function probably writes under another prefix (its PARAMETER_PREFIX, or the "
        "secret's parameterPrefix)",
        "re-run with the function's prefix: `bluegreen status --parameter-prefix <prefix> "
        f"--secret-id {s.sid}` (only if the mirror really is lost: `bluegreen adopt "
        f"--parameter-prefix {prefix} --secret-id {s.sid}`)",
    )


def never_adopted(s: Situation) -> Problem | None:
    """No flag, no URLs, never rotated: the secret was never adopted."""
    if s.mirror.flag_value is not None or s.has_urls() or s.previously_rotated():
        return None
    return Problem(
        "cosmetic",
        f"{s.report.names.flag} does not exist: the secret was never adopted (consumers cannot use the "
        "layer until the mirror exists)",
        f"`bluegreen adopt --secret-id {s.sid}`",
    )


def flag_corrupt(s: Situation) -> Problem | None:
    """The flag holds something other than a color: consumers cannot pick one."""
    if s.mirror.flag_value is None or not s.mirror.flag_corrupt:
        return None
    return Problem(
        "outage",
        f"{s.report.names.flag} holds {s.mirror.flag_value!r}, not blue or green: "
        "consumers cannot pick a color",
        f"{s.adopt_force} (flag -> AWSCURRENT's color, {s.current.color})",
    )


def _current_explains(s: Situation) -> bool:
    """The flag's URLs hold AWSCURRENT's credentials and AWSCURRENT itself does not log in (reported)."""
    facts = s.current_facts
    return (
        facts is not None
        and facts.login == "no"
        and all(u.matches == CURRENT for u in s.report.urls_of(s.current.color))
    )


def _rejected_flag_urls(s: Situation) -> list[UrlFacts]:
    """The flag's URLs that do not log in (or, unchecked, hold no stage's credentials), unless
    AWSCURRENT's own failed login already explains them."""
    if s.flag is None or (s.flag == s.current.color and _current_explains(s)):
        return []
    return [
        u for u in s.flag_urls if u.login == "no" or (u.login is None and not u.check.ok and not u.matches)
    ]


def flag_urls_rejected(s: Situation) -> Problem | None:
    """The flag names a color whose URLs do not log in: consumers following the flag cannot connect."""
    bad = _rejected_flag_urls(s)
    if not bad:
        return None
    flag = s.flag
    if flag == s.current.color:
        fix = f"{s.repair} rewrites {flag}'s URLs from AWSCURRENT"
    elif s.current_facts is not None and s.current_facts.login != "no":
        fix = f"move the flag to AWSCURRENT ({s.current.color}), which logs in: {s.adopt_force}"
    else:
        fix = f"{s.repair}, then {s.adopt_force}"
    return Problem(
        "outage",
        f"the flag names {flag} but {flag}'s URLs do not log in ({_where(bad)}): consumers following "
        "the flag cannot connect",
        fix,
    )


def flag_urls_not_current(s: Situation) -> Problem | None:
    """The flag is on AWSCURRENT's color and its URLs log in (or were not checked) but are not
    AWSCURRENT's credentials."""
    if s.flag != s.current.color or _rejected_flag_urls(s):
        return None
    bad = [u for u in s.flag_urls if not u.check.ok]
    if not bad:
        return None
    return Problem(
        "at-risk",
        f"{s.flag}'s URLs (AWSCURRENT's color) are not AWSCURRENT's credentials ({_where(bad)})",
        f"{s.repair} rewrites them from AWSCURRENT",
    )


def flag_names_other_color(s: Situation) -> Problem | None:
    """The flag names the color AWSCURRENT is not on: consumers use the other color's URLs."""
    flag, current, pending, previous = s.flag, s.current, s.pending, s.previous
    if flag is None or flag == current.color:
        return None
    message = (
        f"the flag names {flag} ({current.username_of(flag)}) but AWSCURRENT is {current.color} "
        f"({current.username}): consumers use {flag}'s URLs"
    )
    keep = f"`bluegreen adopt --force --secret-id {s.sid}` (flag -> {current.color}, AWSCURRENT)"
    on_pending = (
        pending is not None
        and pending.secret is not None
        and pending.color == flag
        and all(u.matches == PENDING for u in s.flag_urls)
    )
    if on_pending:
        works = "which logs in" if s.pending_works else "whose login was not checked"
        message += (
            f"; rotation {s.stuck} stopped after writing {flag}'s URLs and the flag: consumers are on "
            f"the pending password, {works}"
        )
        fix = f"finish it: {s.retry} (or put the flag back: {keep})"
    elif s.previous_is_partner and previous is not None and previous.color == flag:
        fix = (
            f"keep AWSCURRENT: {keep}; or go back to AWSPREVIOUS ({flag}): "
            f"`bluegreen rollback --force --secret-id {s.sid}`"
        )
    else:
        fix = keep
    return Problem("blocked", message, fix)


# -- at-risk / cosmetic: the color off the flag, while consumers may still be on it -----------------


def _other_color_severity(s: Situation) -> tuple[Severity, str]:
    """In grace consumers may still use the other color (at-risk); after it, only a rollback needs it."""
    if s.grace:
        return "at-risk", f"consumers that have not moved off {s.other} yet cannot reconnect"
    return "cosmetic", "a rollback is impossible until it is repaired"


def previous_password_rejected(s: Situation) -> Problem | None:
    """AWSPREVIOUS (the other color) does not log in: its password was changed outside the rotation."""
    previous = s.previous
    if s.flag == s.other or s.pending_owns_other:
        return None
    if previous is None or previous.secret is None or previous.color != s.other:
        return None
    if previous.login != "no":
        return None
    severity, consequence = _other_color_severity(s)
    return Problem(
        severity,
        f"AWSPREVIOUS's password does not log in as {previous.user!r} ({s.other}): it was changed "
        f"outside the rotation; {consequence}",
        f"{s.repair} sets it back to AWSPREVIOUS's (as the master user)",
    )


def other_color_urls_wrong(s: Situation) -> Problem | None:
    """The other color's URLs do not hold AWSPREVIOUS's credentials (and were written before)."""
    bad = s.other_color_urls_off()
    if not bad or s.other_color_never_written():
        return None
    previous = s.previous
    previous_other = previous is not None and previous.secret is not None and previous.color == s.other
    severity, consequence = _other_color_severity(s)
    fix = (
        f"{s.repair} rewrites them from AWSPREVIOUS"
        if previous_other
        else f"the next rotation writes them: `{s.rotate_command(None)}`"
    )
    return Problem(
        severity,
        f"{s.other}'s URLs do not hold AWSPREVIOUS's credentials for "
        f"{s.current.username_of(s.other)} ({_where(bad)}); {consequence}",
        fix,
    )


# -- blocked: an unfinished rotation ----------------------------------------------------------------


def unfinished_rotation(s: Situation) -> Problem | None:
    """AWSPENDING is on a version that is not AWSCURRENT: no other rotation can start.

    Not reported here when the flag already follows the pending color (flag_names_other_color says it).
    """
    stuck, pending = s.stuck, s.pending
    if stuck is None or (s.flag == s.other and pending is not None and pending.color == s.flag):
        return None
    what = f" for {pending.user} ({pending.color})" if pending and pending.secret else ""
    if (
        pending is not None
        and pending.error
        and pending.secret is None
        and "no value yet" not in pending.error
    ):
        what = f" ({pending.error})"
    logs = s.report.meta.logs_hint("1h")
    return Problem(
        "blocked",
        f"rotation {stuck}{what} has not finished: AWSPENDING is on a version that is not AWSCURRENT "
        "(still running, or failed and waiting for a retry); no other rotation can start",
        f"if it failed, read why in {logs}; once fixed, retry it with {s.retry}, or abandon it with "
        f"`{abandon_command(s.report.meta.arn, stuck)}`",
    )


# -- notes ------------------------------------------------------------------------------------------


def note_other_color_never_written(s: Situation) -> str | None:
    return (
        f"{s.other} has no URLs yet: the first rotation writes them"
        if s.other_color_never_written()
        else None
    )


def note_rollback_unavailable(s: Situation) -> str | None:
    previous = s.previous
    if previous is None or previous.login != "n/a":
        return None
    return (
        "rollback is unavailable: AWSPREVIOUS is an older password of the same user "
        f"{s.current.username!r}, not the other color"
    )


RULES: tuple[Rule, ...] = (
    current_password_rejected,
    flag_missing,
    mirror_under_another_prefix,
    never_adopted,
    flag_corrupt,
    flag_urls_rejected,
    flag_urls_not_current,
    flag_names_other_color,
    previous_password_rejected,
    other_color_urls_wrong,
    unfinished_rotation,
)
NOTE_RULES: tuple[NoteRule, ...] = (note_other_color_never_written, note_rollback_unavailable)


def diagnose(s: Situation) -> tuple[list[Problem], list[str]]:
    """Every rule's problem in :data:`RULES` order, and the notes.

    A mirror under another prefix stops the diagnosis: every later mirror rule would only repeat
    "missing" under the wrong prefix.
    """
    problems: list[Problem] = []
    for rule in RULES:
        problem = rule(s)
        if problem is None:
            continue
        problems.append(problem)
        if rule is mirror_under_another_prefix:
            return problems, []
    return problems, [note for rule in NOTE_RULES if (note := rule(s)) is not None]


__all__ = ["NOTE_RULES", "RULES", "Situation", "diagnose", "url_state"]
