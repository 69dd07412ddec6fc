"""The replica-region rules of ``bluegreen status`` on hand-built regions: what they find, and when not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bluegreen_ops.status.facts import url_facts
from bluegreen_ops.status.region_rules import complete_mirror_command, replica_problems
from bluegreen_ops.status.report import RegionFacts
from bluegreen_rotation.mirror import MirrorState
from tests.unit.ops.fakes import BLUE_URLS, GREEN_URLS
from tests.unit.ops.status.test_rules import NAMES, NOW, rotated

FIX = "the fix"


def _with_replica(flag: str | None, urls: dict[str, str] | None = None, error: str | None = None) -> Any:
    """After one rotation (green AWSCURRENT), with one replica region ``us-west-2`` as given."""
    s = rotated()
    report = s.report
    report.regions.append(RegionFacts("us-east-1", True, report.mirror, report.urls))
    replica = RegionFacts("us-west-2", False, error=error)
    if error is None:
        replica.mirror = MirrorState(
            NAMES,
            flag,
            NOW - timedelta(hours=1),
            2,
            dict({**BLUE_URLS, **GREEN_URLS} if urls is None else urls),
        )
        replica.urls = url_facts(report, replica.mirror, s.current, "us-west-2")
    report.regions.append(replica)
    return s


def _messages(s: Any) -> list[tuple[str, str]]:
    return [(p.severity, p.message) for p in replica_problems(s.report, s.current, FIX)]


def test_a_replica_in_step_with_the_primary_has_no_problem() -> None:
    assert _messages(_with_replica("green")) == []


def test_a_replica_flag_on_the_other_color_blocks_and_names_the_region() -> None:
    [(severity, message)] = _messages(_with_replica("blue"))
    assert severity == "blocked"
    assert message.startswith("in us-west-2: the flag names blue but AWSCURRENT is green")


def test_a_missing_replica_flag_or_url_is_an_outage_there() -> None:
    [(severity, message)] = _messages(_with_replica(None))
    assert (severity, message.startswith("in us-west-2: /db/unit/blue-green-env is missing")) == (
        "outage",
        True,
    )
    [(severity, message)] = _messages(_with_replica("green", urls=dict(BLUE_URLS)))
    assert severity == "outage" and "green's URLs there are not its credentials" in message


def test_an_unreadable_replica_is_unchecked() -> None:
    [(severity, message)] = _messages(_with_replica(None, error="AccessDeniedException"))
    assert (severity, message) == (
        "unchecked",
        "in us-west-2: cannot read Parameter Store (AccessDeniedException)",
    )


class _Env:
    emulator = None

    def rotate_command(self, token: str | None = None) -> str:
        return "bluegreen rotate-now --secret-id app/aurora"


def test_the_fix_invokes_finish_secret_for_awscurrent_in_the_primary_region() -> None:
    s = _with_replica("blue")
    fix = complete_mirror_command(_Env(), s.report)  # type: ignore[arg-type]
    assert fix.startswith("`aws lambda invoke --region us-east-1 --function-name bluegreen-rotation ")
    assert '"Step": "finishSecret"' in fix and s.report.meta.state.current_version in fix
