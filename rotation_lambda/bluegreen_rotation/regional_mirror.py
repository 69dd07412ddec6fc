"""The mirror of a replicated secret: Parameter Store in the primary region and every replica region.

Secrets Manager replicates the secret itself, but Parameter Store is regional, so a consumer reading
its own region's flag and URLs needs them written there too (CONTRACT.md, "Replica regions"). The
same prefix is used everywhere; the writer URL names the primary writer in every region (the writer
lives in the primary region) and each region's reader URL names that region's ``readerHost`` from the
secret's ``regions`` key, else the primary's reader.

The safe order holds across regions: every region's URLs are written before any region's flag, so no
region's flag ever names a color whose URLs are missing in some region. A region that cannot be
written raises :class:`RegionMirrorError` (the step fails, the service retries, and the blind
overwrites of the retry complete the mirror).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bluegreen_db.naming import ROLES, Color, ParameterNames, Role

from .errors import RotationError, RotationRefusedError
from .guards import GuardInput, check_not_in_use
from .mirror import Mirror, MirrorState
from .regions import kms_key_for_region
from .secret import DbSecret
from .throttle import ThrottleRetry

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

RegionUrls = Mapping[str, Mapping[Role, str]]


class RegionMirrorError(RotationError):
    """A region's Parameter Store could not be read or written; the message names the region and the
    parameter, never the value."""


def urls_by_region(
    secret: DbSecret, scheme: str, regions: Sequence[str], reader_hosts: Mapping[str, str]
) -> dict[str, dict[Role, str]]:
    """Each region's two URLs: the primary writer everywhere, the region's own reader if it has one."""
    urls: dict[str, dict[Role, str]] = {}
    for region in regions:
        local = replace(secret, reader_host=reader_hosts.get(region, secret.reader_host))
        urls[region] = {role: local.url(role, scheme) for role in ROLES}
    return urls


@dataclass(frozen=True)
class RegionMirror:
    region: str
    mirror: Mirror


class RegionalMirror:
    """The primary region's mirror and every replica's, read and written as one."""

    def __init__(self, targets: Sequence[RegionMirror]) -> None:
        if not targets:
            raise ValueError("a regional mirror needs at least the primary region")
        self._targets = tuple(targets)

    @classmethod
    def build(
        cls,
        names: ParameterNames,
        primary_region: str,
        replicas: Sequence[str],
        client_for: Callable[[str], SSMClient],
        primary_key: str | None = None,
        replica_keys: Sequence[str] = (),
        retry: ThrottleRetry | None = None,
    ) -> RegionalMirror:
        regions = tuple(dict.fromkeys((primary_region, *replicas)))
        return cls(
            [
                RegionMirror(
                    region,
                    Mirror(
                        client_for(region),
                        names,
                        kms_key_for_region(region, primary_region, primary_key, replica_keys),
                        retry,
                    ),
                )
                for region in regions
            ]
        )

    def _in(self, region: str, what: str, call: Callable[[], Any]) -> Any:
        """Runs one region's call; with replicas, a failure names the region (a single-region
        secret's errors stay botocore's own, as they read without replicas)."""
        if len(self._targets) == 1:
            return call()
        return _in_region(region, what, call)

    @property
    def regions(self) -> tuple[str, ...]:
        """The primary first, then the replicas."""
        return tuple(t.region for t in self._targets)

    @property
    def primary(self) -> Mirror:
        return self._targets[0].mirror

    def read(self) -> dict[str, MirrorState]:
        """Every region's state (the guard refuses a color that any region's flag names)."""
        return {t.region: self._in(t.region, "read the mirror", t.mirror.read) for t in self._targets}

    def write_urls(self, color: Color, urls: RegionUrls) -> None:
        for t in self._targets:
            for role in ROLES:
                url = urls[t.region][role]
                name = t.mirror.names.url(color, role)
                self._in(t.region, f"write {name}", partial(t.mirror.write_url, color, role, url))

    def write_flags(self, color: Color) -> None:
        for t in self._targets:
            self._in(t.region, f"write {t.mirror.names.flag}", partial(t.mirror.write_flag, color))

    def write(self, color: Color, urls: RegionUrls) -> None:
        """finishSecret's mirror: every region's URLs, then every region's flag."""
        self.write_urls(color, urls)
        self.write_flags(color)

    def complete(self, color: Color, urls: RegionUrls) -> Completion:
        """Makes every region mirror ``color`` (setSecret's reconciliation and an already-current
        finishSecret): the URLs that differ first, in every region, then the flags that differ.

        Returns every region's state before and afterwards and what was written
        (``region:color/role``, ``region:flag``), so the caller logs and counts it.
        """
        before = self.read()
        changed: list[str] = []
        for t in self._targets:
            for role in ROLES:
                url = urls[t.region][role]
                if before[t.region].url(color, role) != url:
                    name = t.mirror.names.url(color, role)
                    self._in(t.region, f"write {name}", partial(t.mirror.write_url, color, role, url))
                    changed.append(f"{t.region}:{color}/{role}")
        for t in self._targets:
            if before[t.region].flag != color:
                self._in(t.region, f"write {t.mirror.names.flag}", partial(t.mirror.write_flag, color))
                changed.append(f"{t.region}:flag")
        return Completion(before, self.read() if changed else before, changed)


@dataclass(frozen=True)
class Completion:
    """What :meth:`RegionalMirror.complete` found and did."""

    before: dict[str, MirrorState]
    after: dict[str, MirrorState]
    written: list[str]

    @property
    def moved_flags(self) -> dict[str, str]:
        """Region → flag value, for each region whose flag named something other than the color
        (a missing flag, as on a first rotation, is created, not moved)."""
        return {
            region: state.flag_value
            for region, state in self.before.items()
            if state.flag_value is not None and self.after[region].flag_value != state.flag_value
        }


def check_not_in_use_anywhere(facts: GuardInput, states: Mapping[str, MirrorState]) -> None:
    """``guards.check_not_in_use`` against every region's flag; a refusal names the region (when
    there is more than one: a single-region secret's refusal reads as it always has)."""
    for region, state in states.items():
        try:
            check_not_in_use(replace(facts, mirror=state))
        except RotationRefusedError as exc:
            if len(states) == 1:
                raise
            raise RotationRefusedError(f"in {region}: {exc}") from None


def _in_region(region: str, what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise RegionMirrorError(f"could not {what} in {region}: {code}") from exc
    except BotoCoreError as exc:
        raise RegionMirrorError(f"could not {what} in {region}: {type(exc).__name__}") from exc
