"""The snapshot cache with a plain fake source: TTL, single flight, bounded waits, stale-if-error, the
denied-credentials rule and fork safety.

Who waits behind a hung fetch is proved by ordering: the fake holds its call on an Event; a caller that
returns while the call is still held did not wait for it.
"""

from __future__ import annotations

import json
import os
import threading

import pytest

from bluegreen_db.errors import ParameterMissingError, RefreshTimeoutError
from bluegreen_db.naming import ParameterNames
from bluegreen_db.refresh import SnapshotCache, newer_credentials
from bluegreen_db.snapshot import Snapshot
from tests.unit.layer.fakes import HOLD_LIMIT, PREFIX, Clock, FakeSSM, parameters

NAMES = ParameterNames.for_prefix(PREFIX, {})


class OutageError(Exception):
    pass


def make_cache(
    values: dict[str, str] | None = None,
    *,
    ttl: float = 60,
    refresh_timeout: float = 2 * HOLD_LIMIT,  # longer than any hold: only a held call ends a wait
    stale_if_error: float = 300,
    forced_refresh_interval: float = 5,
) -> tuple[SnapshotCache, FakeSSM, Clock]:
    ssm = FakeSSM(parameters() if values is None else values)
    clock = Clock()

    def fetch() -> Snapshot:
        response = ssm.get_parameters(Names=NAMES.all(), WithDecryption=True)
        return Snapshot.from_values({p["Name"]: p["Value"] for p in response["Parameters"]}, NAMES)  # type: ignore[attr-defined]

    cache = SnapshotCache(
        fetch,
        label=PREFIX,
        ttl=ttl,
        refresh_timeout=refresh_timeout,
        stale_if_error=stale_if_error,
        forced_refresh_interval=forced_refresh_interval,
        clock=clock,
    )
    return cache, ssm, clock


# -- TTL ---------------------------------------------------------------------------------------


def test_served_from_memory_within_the_ttl_then_refreshed():
    cache, ssm, clock = make_cache(ttl=60)
    first = cache.current()
    assert [cache.current() for _ in range(100)] == [first] * 100
    assert len(ssm.calls) == 1
    ssm.values.update(parameters(flag="green"))
    clock.now += 59.9
    assert cache.current().color == "blue"
    clock.now += 0.2
    fresh = cache.current()
    assert (fresh.color, fresh.generation, fresh.fetched_at) == ("green", 2, clock.now)
    assert len(ssm.calls) == 2


def test_ttl_zero_fetches_every_time():
    cache, ssm, _ = make_cache(ttl=0)
    cache.current()
    cache.current()
    assert len(ssm.calls) == 2


def test_invalidate_drops_the_snapshot():
    cache, ssm, _ = make_cache()
    cache.current()
    cache.invalidate()
    assert cache.cached is None
    cache.current()
    assert len(ssm.calls) == 2


# -- single flight -----------------------------------------------------------------------------


def test_a_first_load_by_many_threads_costs_one_call():
    cache, ssm, _ = make_cache()
    ssm.hold()
    colors: list[str] = []

    def read() -> None:
        colors.append(cache.current().color)

    threads = [threading.Thread(target=read) for _ in range(16)]
    for t in threads:
        t.start()
    assert ssm.entered.wait(HOLD_LIMIT)
    assert cache.refreshing
    ssm.release()
    for t in threads:
        t.join(HOLD_LIMIT)
    assert colors == ["blue"] * 16
    assert len(ssm.calls) == 1


def test_at_expiry_one_caller_refreshes_and_the_others_get_the_just_expired_snapshot_at_once():
    cache, ssm, clock = make_cache(ttl=10)
    first = cache.current()
    ssm.hold()
    clock.now += 11  # expired, but less than two TTLs old
    refreshed: list[Snapshot] = []
    refresher = threading.Thread(target=lambda: refreshed.append(cache.current()))
    refresher.start()
    assert ssm.entered.wait(HOLD_LIMIT)  # the refresher's call is under way, and held

    assert [cache.current() for _ in range(8)] == [first] * 8
    assert ssm.held and refresher.is_alive()  # ...so none of those eight waited for it

    ssm.release()
    refresher.join(HOLD_LIMIT)
    assert refreshed[0].generation == 2
    assert cache.current() is refreshed[0]
    assert len(ssm.calls) == 2


def test_a_snapshot_older_than_two_ttls_waits_for_the_refresh():
    cache, ssm, clock = make_cache(ttl=10)
    cache.current()
    clock.now += 25  # older than two TTLs: never served without a refresh
    ssm.values.update(parameters(flag="green"))
    assert cache.current().color == "green"


def test_a_forced_refresh_is_coalesced_per_snapshot():
    cache, ssm, _ = make_cache()
    stale = cache.current()
    fresh = cache.refresh(stale=stale)
    assert fresh is not stale
    assert cache.refresh(stale=stale) is fresh  # someone already replaced it: no new call
    assert len(ssm.calls) == 2
    cache.refresh()
    assert len(ssm.calls) == 3


# -- bounded waits -----------------------------------------------------------------------------


def test_the_refresher_itself_waits_no_longer_than_the_refresh_timeout():
    cache, ssm, clock = make_cache(ttl=10, refresh_timeout=0.2)
    first = cache.current()
    ssm.hold()
    clock.now += 11
    assert cache.current() is first  # the refresh timed out: the stale snapshot is served
    assert ssm.held  # ...while the call is still held: the wait ended by the timeout, not the call
    assert cache.current() is first  # backing off, the call still in flight: at once
    assert len(ssm.calls) == 2
    ssm.release()


def test_with_nothing_to_fall_back_on_a_timeout_is_a_typed_error():
    cache, ssm, _ = make_cache(refresh_timeout=0.2)
    ssm.hold()
    with pytest.raises(RefreshTimeoutError, match="refresh timeout"):
        cache.current()
    assert ssm.held
    ssm.release()


def test_long_after_a_timed_out_refresh_nobody_waits_for_the_hung_call():
    cache, ssm, clock = make_cache(ttl=10, refresh_timeout=0.2)
    first = cache.current()
    ssm.hold()
    clock.now += 11
    assert cache.current() is first  # times out: the source is now known to be failing
    clock.now += 15  # older than two TTLs, within stale_if_error
    assert [cache.current() for _ in range(8)] == [first] * 8
    assert ssm.held
    assert len(ssm.calls) == 2  # one call in flight at a time, not one per caller
    ssm.release()


# -- stale if error ----------------------------------------------------------------------------


def test_a_failed_refresh_serves_the_stale_snapshot_backs_off_then_retries_in_the_background(caplog):
    caplog.set_level("WARNING", logger="bluegreen_db")
    cache, ssm, clock = make_cache(ttl=60)
    first = cache.current()
    ssm.failure = lambda: OutageError("endpoint unreachable")
    clock.now += 61
    assert cache.current() is first
    assert "could not refresh" in caplog.text and "OutageError" in caplog.text
    clock.now += 1
    assert cache.current() is first
    assert len(ssm.calls) == 2  # backed off: no call for min(ttl, 5) seconds

    clock.now += 5
    ssm.hold()
    assert cache.current() is first  # still failing: retried in the background...
    assert ssm.entered.wait(HOLD_LIMIT)
    assert ssm.held  # ...and not waited for
    ssm.release()
    with pytest.raises(OutageError):
        cache.refresh()  # joins (or repeats) the failing call: errors are never hidden by refresh()

    clock.now += 300  # past ttl + stale_if_error: the outage surfaces
    with pytest.raises(OutageError):
        cache.current()


def test_a_failed_refresh_without_a_snapshot_or_with_stale_disabled_raises():
    cache, ssm, clock = make_cache(stale_if_error=0)
    cache.current()
    ssm.failure = lambda: OutageError("down")
    clock.now += 61
    with pytest.raises(OutageError):
        cache.current()
    empty, ssm2, _ = make_cache()
    ssm2.failure = lambda: OutageError("down")
    with pytest.raises(OutageError):
        empty.current()


def test_configuration_errors_are_never_hidden_by_a_stale_snapshot():
    cache, ssm, clock = make_cache()
    cache.current()
    del ssm.values[f"{PREFIX}/blue-green-env"]
    clock.now += 61
    with pytest.raises(ParameterMissingError):
        cache.current()
    clock.now += 1
    with pytest.raises(ParameterMissingError):  # and no back-off hides it either
        cache.current()


# -- denied credentials ------------------------------------------------------------------------


def test_forced_refreshes_once_per_snapshot_and_at_most_once_per_interval():
    cache, ssm, clock = make_cache(ttl=3600, forced_refresh_interval=5)
    first = cache.current()
    second = cache.refresh_after_denied(first)
    assert second.generation == 2 and len(ssm.calls) == 2
    assert cache.refresh_after_denied(first) is second  # already replaced: no call
    assert cache.refresh_after_denied(second) is second  # within the interval: no call
    assert len(ssm.calls) == 2
    clock.now += 5
    third = cache.refresh_after_denied(second)
    assert third.generation == 3 and len(ssm.calls) == 3
    clock.now += 60
    assert cache.refresh_after_denied(second) is third  # once per snapshot, whatever the interval
    assert len(ssm.calls) == 3


def test_a_failing_forced_refresh_hands_back_the_refused_snapshot():
    cache, ssm, _ = make_cache(ttl=3600)
    first = cache.current()
    ssm.failure = lambda: OutageError("down")
    assert cache.refresh_after_denied(first) is first


def test_newer_credentials_only_when_the_role_url_changed():
    cache, ssm, _ = make_cache(ttl=3600)
    first = cache.current()
    same = cache.refresh()
    assert newer_credentials(first, same, "writer") is None
    ssm.values.update(parameters(blue_pw="rotated-pw"))
    rotated = cache.refresh()
    assert newer_credentials(first, rotated, "writer") is rotated


# -- fork --------------------------------------------------------------------------------------


def test_a_forked_child_never_waits_for_the_parents_refresh():
    cache, ssm, clock = make_cache(ttl=10)
    cache.current()
    ssm.hold()
    clock.now += 25  # older than two TTLs: a caller must wait for a refresh
    refresher = threading.Thread(target=cache.current, daemon=True)
    refresher.start()
    assert ssm.entered.wait(HOLD_LIMIT)

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's worker thread does not exist here
        try:
            ssm.release()  # the child's copy of the fake; the parent's call stays held
            snap = cache.current()
            result = {"generation": snap.generation, "refreshing": cache.refreshing}
        except BaseException as exc:
            result = {"error": repr(exc)}
        os.write(write_fd, json.dumps(result).encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        result = json.loads(pipe.read() or "{}")
    os.waitpid(pid, 0)
    assert result == {"generation": 2, "refreshing": False}  # its own refresh, not the parent's
    assert ssm.held and refresher.is_alive()  # the parent's call was held all along
    ssm.release()
    refresher.join(HOLD_LIMIT)
