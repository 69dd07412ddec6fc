"""Fault injection for whole rotations: record every external call, then fail each one in turn.

A package of small modules, one job each; this module re-exports what the tests import, so
``from tests.faults import X`` (and ``faults.X`` after ``from tests import faults``) reach them:

- :mod:`.points`: fault modes, call kinds, :class:`Call`, :class:`InjectionPoint` and
  :func:`injection_points`, what counts as an effect, :class:`SimulatedCrash`;
- :mod:`.recorder`: :class:`FaultRecorder`, which records and fires, and ``cold_start``;
- :mod:`.drivers`: the driver proxy and each engine's lost-connection error (pymysql, psycopg);
- :mod:`.throttle`: :class:`ThrottleOnce`, throttling below botocore's retries;
- :mod:`.consumer`: :class:`Consumer`, reading the mirror and logging in throughout a run;
- :mod:`.end_state`: :func:`rotation_state`, the end state's fingerprint and broken guarantees;
- :mod:`.totals`: ``COVERAGE`` and ``count``, the totals the safety conftest prints.

A :class:`FaultRecorder` attached to an uninterrupted rotation lists, in order, every call the
function makes to the outside world:

- each Secrets Manager and Parameter Store API call, seen by botocore event hooks registered on the
  function's own clients (``bluegreen_rotation.aws.secretsmanager_client()``/``ssm_client()``, which
  are cached per execution environment): one entry per API call, whatever botocore retries below it;
- MySQL (``engine="mariadb"``): each ``pymysql.connect`` made by
  ``bluegreen_rotation.engines.mysql.connection`` (its module-level ``pymysql`` is replaced by a proxy
  whose ``connect`` is wrapped), and each statement executed on a connection it opened
  (``pymysql.cursors.Cursor.execute`` is wrapped, and only counts tracked connections, so
  ``Admin._rows`` and ``test_login``'s cursor are seen alike and nothing else is);
- PostgreSQL (``engine="postgresql"``): each ``psycopg.connect`` made by
  ``bluegreen_rotation.engines.postgresql.connection`` (its module-level ``psycopg`` proxied the
  same way). Its statements are not injected: a point per statement would double the suite's
  longest test, and what a retry must redo after a dropped statement is the engine's own
  idempotence, which ``tests/integration/rotation/engines/postgresql`` proves statement by statement.

The same recorder, armed with an :class:`InjectionPoint`, fails exactly that call once in a fresh
rotation. Nothing is mocked: every fault wraps the real call, and the call itself still runs
whenever the fault says it took effect.

Fault modes:

``fail``
    The call fails before it takes effect. AWS: a ``ClientError`` (``ThrottlingException`` or a
    5xx code) raised from ``before-call``, which sits above botocore's retry loop, so the step sees
    it. DB: ``OperationalError(2013, "Lost connection ...")`` (PostgreSQL: psycopg's
    ``OperationalError``, "server closed the connection") instead of connecting, or the
    connection dropped before the statement is sent.
``lost-reply``
    The call takes effect but its answer is lost. AWS: a ``ClientError`` raised from ``after-call``
    once the service has applied the request. DB: the statement runs, then the connection is dropped
    (as pymysql does on a lost connection) and 2013 is raised.
``crash``
    The call takes effect, then the execution environment dies: :class:`SimulatedCrash` is raised
    after the call, the function's DB connection is dropped, and the next invocation starts cold
    (``app._store`` and the cached clients are dropped).

``lost-reply`` and ``crash`` apply to calls with an effect (writes, and MySQL named locks).
"""

from __future__ import annotations

from tests.faults.consumer import Consumer
from tests.faults.end_state import rotation_state
from tests.faults.points import (
    CRASH,
    FAIL,
    LOST_REPLY,
    Call,
    InjectionPoint,
    SimulatedCrash,
    injection_points,
)
from tests.faults.recorder import FaultRecorder
from tests.faults.throttle import ThrottleOnce
from tests.faults.totals import COVERAGE, count

__all__ = [
    "COVERAGE",
    "CRASH",
    "FAIL",
    "LOST_REPLY",
    "Call",
    "Consumer",
    "FaultRecorder",
    "InjectionPoint",
    "SimulatedCrash",
    "ThrottleOnce",
    "count",
    "injection_points",
    "rotation_state",
]
