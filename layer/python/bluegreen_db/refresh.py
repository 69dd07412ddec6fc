"""The snapshot cache: a single-flight TTL cache with deadlines, stale-if-error and fork safety.

It knows nothing of where snapshots come from: ``fetch`` (a :mod:`bluegreen_db.source` call, or a
test's fake) returns an unstamped :class:`~bluegreen_db.snapshot.Snapshot` or raises; the cache stamps
it with its generation and its clock and keeps it for the TTL.

* **Single flight, bounded waits.** A refresh runs ``fetch`` in a worker thread, at most one at a time
  per cache. The caller that started it waits at most ``refresh_timeout`` seconds; every other caller
  holding a usable snapshot gets it at once. A hung source therefore costs one caller
  ``refresh_timeout`` per back-off period, and nobody else anything.
* **Stale if error.** When a refresh fails or times out, a snapshot younger than
  ``ttl + stale_if_error`` is served instead, with a warning, and no new refresh starts for
  ``min(ttl, 5)`` seconds; while the source keeps failing, refreshes run in the background and nobody
  waits for them. Configuration errors (a missing or malformed parameter) are always raised.
* **Denied credentials.** When the database refuses a snapshot's credentials, a refresh is forced at
  most once per snapshot and at most once per ``forced_refresh_interval`` seconds: a wrong password
  in the source costs one fetch per interval however many connections fail.
* **Fork safety.** ``os.register_at_fork`` gives every live cache, in a forked child, a new lock and no
  refresh in flight (the parent's worker thread does not exist there). The inherited snapshot is
  kept: it was fetched by the parent and is served while its TTL lasts.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable

from bluegreen_db.errors import (
    ParameterInvalidError,
    ParameterMissingError,
    ParameterStoreError,
    RefreshTimeoutError,
)
from bluegreen_db.naming import Role
from bluegreen_db.settings import REFRESH_TIMEOUT_ENV
from bluegreen_db.snapshot import Snapshot

logger = logging.getLogger(__name__)

BACKOFF_SECONDS = 5.0  # the longest pause between two refreshes after a failure (shorter if the TTL is)

_CONFIGURATION_ERRORS = (ParameterMissingError, ParameterInvalidError)


class _Flight:
    """One fetch under way in a worker thread; its waiters block on ``done``."""

    __slots__ = ("deadline", "done", "error", "snapshot")

    def __init__(self, timeout: float) -> None:
        self.done = threading.Event()
        self.snapshot: Snapshot | None = None
        self.error: BaseException | None = None
        # Real time, not the cache's injectable clock: Event.wait counts real seconds.
        self.deadline = time.monotonic() + timeout

    def overdue(self) -> bool:
        return not self.done.is_set() and time.monotonic() >= self.deadline


# Every live cache, so that a forked child can reset them all (see _after_fork_in_child).
_caches: weakref.WeakSet[SnapshotCache] = weakref.WeakSet()


class SnapshotCache:
    """Keeps the snapshot ``fetch`` returns for ``ttl`` seconds; thread-safe and fork-safe.

    :param fetch: one read of the source; runs in a worker thread, never under the cache's lock.
    :param label: what is being read, for log lines and errors (e.g. the parameter prefix).
    :param clock: monotonic clock for the TTL and the back-off (deadlines always use real time).
    """

    def __init__(
        self,
        fetch: Callable[[], Snapshot],
        *,
        label: str,
        ttl: float,
        refresh_timeout: float,
        stale_if_error: float,
        forced_refresh_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._label = label
        self._ttl = ttl
        self._refresh_timeout = refresh_timeout
        self._stale_if_error = stale_if_error
        self._forced_interval = forced_refresh_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._flight: _Flight | None = None
        self._failing = False  # the last refresh failed or timed out
        self._backoff_until = 0.0
        self._forced_generation = 0  # the snapshot generation whose denial last forced a refresh
        self._last_forced = float("-inf")
        self._generation = 0
        _caches.add(self)

    @property
    def cached(self) -> Snapshot | None:
        """The snapshot in memory, however old (no I/O)."""
        return self._snapshot

    @property
    def generation(self) -> int:
        """How many snapshots this cache has taken."""
        return self._generation

    @property
    def refreshing(self) -> bool:
        """Whether a fetch is under way (a worker thread is waiting on the source)."""
        flight = self._flight
        return flight is not None and not flight.done.is_set()

    def is_fresh(self, snap: Snapshot | None) -> bool:
        """True while ``snap`` is younger than the TTL."""
        return snap is not None and self._clock() - snap.fetched_at < self._ttl

    def serves_while_refreshing(self, snap: Snapshot) -> bool:
        """Whether a caller holding ``snap`` gets it at once while another caller refreshes: when it
        is less than two TTLs old, or the source is failing and it is still within ``stale_if_error``."""
        age = self._clock() - snap.fetched_at
        return age < 2 * self._ttl or (self._failing and age < self._ttl + self._stale_if_error)

    def current(self) -> Snapshot:
        """The snapshot, refreshed when older than the TTL; never waits past the refresh timeout.

        When the TTL lapses, one caller starts a refresh and waits for it at most ``refresh_timeout``
        seconds; every other caller holding a snapshot :meth:`serves_while_refreshing` gets it at once,
        and callers with nothing usable wait for the same refresh, as long at most.
        """
        snap = self._snapshot
        if snap is not None and self._clock() - snap.fetched_at < self._ttl:
            return snap
        return self._refresh(snap)

    def refresh(self, stale: Snapshot | None = None) -> Snapshot:
        """A new snapshot now, bypassing the TTL (bounded by the refresh timeout).

        With ``stale``, the refresh is coalesced: if another caller already replaced that snapshot,
        its result is returned without a new fetch. Errors are raised, never hidden behind ``stale``.
        """
        with self._lock:
            snap = self._snapshot
            if stale is not None and snap is not None and snap is not stale:
                return snap
            flight = self._live_flight_locked()
        return self._await(flight, fallback=None)

    def refresh_after_denied(self, stale: Snapshot) -> Snapshot:
        """A fresher snapshot after the database refused ``stale``'s credentials.

        At most one refresh per snapshot, and at most one per ``forced_refresh_interval`` seconds.
        Returns ``stale`` itself (or whatever replaced it) when no refresh is allowed or the refresh
        fails; the caller then raises the database's error.
        """
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap is not stale and snap.generation > stale.generation:
                return snap  # someone already replaced it
            now = self._clock()
            if self._forced_generation >= stale.generation or now - self._last_forced < self._forced_interval:
                logger.debug("access denied: a forced refresh was made moments ago; not refreshing again")
                return snap or stale
            self._forced_generation = stale.generation
            self._last_forced = now
            flight = self._live_flight_locked()
        return self._await(flight, fallback=stale)

    def invalidate(self) -> None:
        """Drops the cached snapshot; the next read fetches."""
        with self._lock:
            self._snapshot = None

    # -- the single flight -----------------------------------------------------------------------

    def _usable(self, snap: Snapshot, now: float) -> bool:
        return now - snap.fetched_at < self._ttl + self._stale_if_error

    def _refresh(self, seen: Snapshot | None) -> Snapshot:
        with self._lock:
            snap = self._snapshot
            now = self._clock()
            if snap is not None and snap is not seen and now - snap.fetched_at < self._ttl:
                return snap  # another caller refreshed meanwhile
            flight = self._flight
            if flight is None:
                if snap is not None and now < self._backoff_until and self._usable(snap, now):
                    return snap  # the last refresh failed moments ago: do not hammer the source
                flight = self._start_flight_locked()
                if snap is not None and self._failing and self._usable(snap, now):
                    return snap  # still failing: retry in the background, nobody waits for it
            elif snap is not None and self.serves_while_refreshing(snap):
                return snap  # someone else is refreshing: keep serving what we have
            elif flight.overdue():
                self._failing = True  # the refresh outlived its timeout: the source is failing
                if snap is not None and self._usable(snap, now):
                    return snap
                # Nothing usable: try again rather than fail at once (the stuck call may date from
                # before a Lambda freeze). At most one new call per refresh timeout.
                flight = self._start_flight_locked()
        return self._await(flight, fallback=snap)

    def _live_flight_locked(self) -> _Flight:
        """The refresh under way, or a new one if there is none or it is past its deadline."""
        flight = self._flight
        if flight is None or flight.overdue():
            flight = self._start_flight_locked()
        return flight

    def _start_flight_locked(self) -> _Flight:
        flight = _Flight(self._refresh_timeout)
        self._flight = flight
        worker = threading.Thread(
            target=self._fly, args=(flight,), name=f"bluegreen-refresh{self._label}", daemon=True
        )
        worker.start()
        return flight

    def _fly(self, flight: _Flight) -> None:
        """The worker: one fetch, its snapshot installed, the waiters woken."""
        try:
            flight.snapshot = self._install(self._fetch())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiters, never lost in a thread
            flight.error = exc
        finally:
            with self._lock:
                if self._flight is flight:
                    self._flight = None
                if flight.error is None:
                    self._failing = False
                    self._backoff_until = 0.0
                elif not isinstance(flight.error, _CONFIGURATION_ERRORS):
                    self._failing = True
                    self._backoff_until = self._clock() + min(self._ttl, BACKOFF_SECONDS)
            if flight.error is not None:
                logger.warning(
                    "could not refresh the blue/green parameters under %s (%s)",
                    self._label,
                    describe(flight.error),
                )
            flight.done.set()

    def _install(self, fetched: Snapshot) -> Snapshot:
        with self._lock:
            previous = self._snapshot
            self._generation += 1
            snap = dataclasses.replace(fetched, generation=self._generation, fetched_at=self._clock())
            self._snapshot = snap
        if previous is not None and previous.color != snap.color:
            logger.info(
                "blue/green flag under %s moved from %s to %s", self._label, previous.color, snap.color
            )
        else:
            logger.debug("refreshed blue/green parameters under %s: %s", self._label, snap.color)
        return snap

    def _await(self, flight: _Flight, fallback: Snapshot | None) -> Snapshot:
        """Waits for ``flight`` until its deadline (the refresh timeout after it started: a caller that
        joins late waits only the rest); on failure serves ``fallback`` if usable."""
        finished = flight.done.wait(max(0.0, flight.deadline - time.monotonic()))
        if finished and flight.snapshot is not None:
            return flight.snapshot
        error: BaseException
        if finished:
            error = flight.error or RuntimeError("refresh ended without a snapshot")
            if isinstance(error, _CONFIGURATION_ERRORS):
                raise error  # configuration errors are never hidden by a stale snapshot
        else:
            error = RefreshTimeoutError(
                f"reading the blue/green parameters under {self._label} took longer than the "
                f"refresh timeout ({self._refresh_timeout:g} s, {REFRESH_TIMEOUT_ENV}); check the "
                "network path to the SSM endpoint",
                "RefreshTimeout",
            )
            with self._lock:
                self._failing = True
                self._backoff_until = max(
                    self._backoff_until, self._clock() + min(self._ttl, BACKOFF_SECONDS)
                )
        snap = self._snapshot
        now = self._clock()
        if snap is not None and snap is not fallback and now - snap.fetched_at < self._ttl:
            return snap
        if fallback is not None and self._usable(fallback, now):
            logger.log(
                logging.WARNING if not finished else logging.DEBUG,  # a failure was logged by _fly
                "could not refresh the blue/green parameters under %s (%s); using the snapshot "
                "from %.0f s ago (color %s)",
                self._label,
                describe(error),
                now - fallback.fetched_at,
                fallback.color,
            )
            return fallback
        raise error

    def _after_fork_in_child(self) -> None:
        """Runs in a forked child only: nothing of the parent's threads is waited for."""
        self._lock = threading.Lock()
        self._flight = None  # its worker thread exists in the parent only
        self._failing = False
        self._backoff_until = 0.0


def newer_credentials(snap: Snapshot, fresh: Snapshot, role: Role) -> Snapshot | None:
    """``fresh`` if its credentials for ``role`` differ from the ones of ``snap`` the database refused,
    else None (logged either way): whether a connection refused with ``snap`` is worth retrying."""
    url, fresh_url = snap.url(role), fresh.url(role)
    if fresh_url == url:
        logger.warning("access denied for %s and Parameter Store holds no newer credentials", url.redacted())
        return None
    logger.info(
        "access denied for %s; retrying with refreshed credentials %s (flag: %s)",
        url.redacted(),
        fresh_url.redacted(),
        fresh.color,
    )
    return fresh


def describe(error: BaseException) -> str:
    """An error for a log line: its type (and AWS code), never its message (which may quote input)."""
    if isinstance(error, ParameterStoreError):
        return f"{type(error).__name__}: {error.code}"
    return type(error).__name__


def _after_fork_in_child() -> None:
    for cache in list(_caches):
        cache._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_after_fork_in_child)
