"""Zero-downtime benchmark of the consumer side, on the real local stack.

    python -m bench.zero_downtime [--workers 16] [--rotations 3] [--ttl 1] [--delay-ms 20]
                                  [--processes 3] [--threads 4] [--only layer,prefork,...]

Starts Debian's MariaDB and moto's server (``bluegreen_ops.devstack``), then runs the same load,
K concurrent workers querying ``SELECT CURRENT_USER()`` in a loop (half Lambda-style, a new connection
per operation; half server-style, four threads per SQLAlchemy engine pool), through three scenarios:

* **layer**: this project. Lambda-style workers use ``BlueGreenConsumer.connect`` (one consumer per
  simulated Lambda container), server-style workers ``bluegreen_db.create_engine``. R rotations run
  back to back through the real handler (``app.lambda_handler``) driven by ``RotationDriver``, with
  ``ROTATION_GRACE_SECONDS`` just above the consumer TTL and ``ACTIVE_SESSION_POLICY=fail``.
* **in-place**: one user, credentials read at start-up, R in-place ``ALTER USER`` password changes.
* **seed**: the seed post's layer code, three sequential ``get_parameter`` calls once at cold start,
  never refreshed (servers likewise read once at start-up), across two real rotations.
  ``ACTIVE_SESSION_POLICY=warn`` here: under ``fail`` the rotation would be refused instead, because
  the seed's consumers never leave the old color.

Server runtimes (issue 12), each through R real rotations under ``ACTIVE_SESSION_POLICY=fail``:

* **preforked**: gunicorn ``--preload`` style. The parent builds one consumer and one engine (with
  ``drain_interval``) and uses them, then forks P processes running T engine threads plus one
  ``connect()`` thread each; the children report their operations through a pipe.
* **asyncio**: one event loop, ``AsyncBlueGreenConsumer.connect`` tasks and aiomysql engine tasks.
* **hung Parameter Store**: a TCP proxy in front of moto stops answering (``bluegreen_ops.devstack.faults.StallingProxy``)
  while callers hold a just-expired snapshot; the callers' waits (p50/p99/max) of the layer against
  the behaviour before issue 12 (a lock held across the call, each waiter refetching in turn), same
  client and botocore timeouts, same run.

Time is compressed like the TTL and the grace period: server pools recycle connections after 3 s in
every scenario (a stand-in for the reconnects real servers make: recycling, restarts, scale-out).
Convergence after a flip is measured from the start of the rotation's finishSecret (which writes the
flag last) until no worker starts an operation with the old color any more. The cold-start row injects a fixed
delay into every AWS call with a botocore ``before-send`` hook and times reading the configuration:
the layer's one ``GetParameters`` against the seed's three ``GetParameter`` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import select
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ``app`` (the rotation function's entry point) lives in rotation_lambda/, as in the Lambda package.
_FUNCTION_DIR = str(Path(__file__).resolve().parents[1] / "rotation_lambda")
if _FUNCTION_DIR not in sys.path:
    sys.path.insert(0, _FUNCTION_DIR)

# The rotation function logs and emits metrics on stdout; keep the bench's own output readable.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import boto3  # noqa: E402
import pymysql  # noqa: E402
import sqlalchemy  # noqa: E402

from bluegreen_db.async_consumer import AsyncBlueGreenConsumer  # noqa: E402
from bluegreen_db.async_engine import create_async_engine  # noqa: E402
from bluegreen_db.consumer import BlueGreenConsumer  # noqa: E402
from bluegreen_db.dburl import build_url, parse_url  # noqa: E402
from bluegreen_db.naming import ParameterNames  # noqa: E402
from bluegreen_db.sqlalchemy_engine import create_engine  # noqa: E402
from bluegreen_ops.devstack.environ import patched_environ  # noqa: E402
from bluegreen_ops.devstack.faults import StallingProxy  # noqa: E402
from bluegreen_ops.devstack.mariadb import MariaDB  # noqa: E402
from bluegreen_ops.devstack.moto_server import MotoServer, aws_environment  # noqa: E402
from bluegreen_ops.devstack.seeding import AppDatabase, seed_application  # noqa: E402

INITIAL_PASSWORD = "bench-initial-Passw0rd"
WHO_SQL = "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"
SERVER_THREADS = 4
POOL_RECYCLE = 3  # seconds, the same for every scenario's server pools


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- load --------------------------------------------------------------------------------------


@dataclass
class Op:
    start: float
    end: float
    user: str | None  # None: the operation failed
    error: str | None = None


@dataclass
class Worker:
    name: str
    kind: str  # "lambda" or "server"
    run_op: Callable[[], str]
    ops: list[Op] = field(default_factory=list)

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                user = self.run_op()
                self.ops.append(Op(started, time.monotonic(), user))
            except Exception as exc:  # noqa: BLE001 - every failure counts; the loop goes on
                self.ops.append(Op(started, time.monotonic(), None, f"{type(exc).__name__}: {exc.args[:1]}"))
                time.sleep(0.01)
            time.sleep(0.005)


def pymysql_op(connect: Callable[[], Any]) -> Callable[[], str]:
    def op() -> str:
        conn = connect()
        try:
            with conn.cursor() as cur:
                cur.execute(WHO_SQL)
                row = cur.fetchone()
            return str(row[0])
        finally:
            conn.close()

    return op


def engine_op(engine: sqlalchemy.Engine) -> Callable[[], str]:
    who = sqlalchemy.text(WHO_SQL)

    def op() -> str:
        with engine.connect() as conn:
            return str(conn.scalar(who))

    return op


@contextlib.contextmanager
def running(workers: list[Worker]) -> Iterator[None]:
    stop = threading.Event()
    threads = [threading.Thread(target=w.loop, args=(stop,), name=w.name, daemon=True) for w in workers]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)


# -- rotations ---------------------------------------------------------------------------------


class Rotations:
    """The real rotation handler through the driver, spaced by the grace period."""

    def __init__(self, sm: Any, ssm: Any, app: AppDatabase, names: ParameterNames, grace: int) -> None:
        from app import lambda_handler  # the rotation function's real entry point
        from bluegreen_ops.devstack.secrets_manager_driver import RotationDriver

        self.driver = RotationDriver(sm, lambda_handler, max_attempts=5, retry_delay=1.0, on_step=self._step)
        self.ssm = ssm
        self.app = app
        self.names = names
        self.grace = grace
        self.last: float | None = None
        self._finish_started = 0.0

    def _step(self, result: Any) -> None:
        if result.step == "finishSecret" and result.error is None:
            self._finish_started = time.monotonic() - result.seconds

    def rotate(self) -> tuple[float, str]:
        """Runs one rotation; returns (when its finishSecret began, the user the flag now names).

        finishSecret writes the flag (last), so its start is a conservative time for the flip.
        """
        if self.last is not None:
            # The guard counts grace from the flag's LastModifiedDate (whole seconds): add a margin.
            wait = self.last + self.grace + 0.7 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self.driver.rotate(self.app.secret_arn)
        self.last = time.monotonic()
        flag = self.ssm.get_parameter(Name=self.names.flag)["Parameter"]["Value"]
        return self._finish_started, (self.app.username if flag == "blue" else f"{self.app.username}_green")

    @property
    def refused_attempts(self) -> int:
        return sum(1 for r in self.driver.history if r.error is not None)


def count_ssm_calls(client: Any, counter: collections.Counter[str]) -> None:
    def hook(event_name: str, **_: Any) -> None:
        counter[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-call.ssm.*", hook)


# -- the seed's layer code ---------------------------------------------------------------------


class SeedLayer:
    """The seed post's Lambda layer: three sequential reads at cold start (import), never refreshed."""

    def __init__(self, client: Any, prefix: str) -> None:
        get = self._get(client)
        self.blue_green_env = get(f"{prefix}/blue-green-env")
        self.writer_db_url = get(f"{prefix}/{self.blue_green_env}/writer-db-url")
        self.reader_db_url = get(f"{prefix}/{self.blue_green_env}/reader-db-url")

    @staticmethod
    def _get(client: Any) -> Callable[[str], str]:
        def get(name: str) -> str:
            return str(client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])

        return get


def static_pymysql(url: str) -> Callable[[], Any]:
    parsed = parse_url(url)
    return lambda: pymysql.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
        connect_timeout=5,
    )


def static_engine(url: str) -> sqlalchemy.Engine:
    return sqlalchemy.create_engine(
        url, pool_size=SERVER_THREADS, max_overflow=0, pool_pre_ping=True, pool_recycle=POOL_RECYCLE
    )


# -- results -----------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    workers: list[Worker]
    flips: list[tuple[float, str]]
    end: float
    ps_calls: int | None = None  # Parameter Store calls by the consumers
    ps_refreshes: int | None = None  # snapshot refreshes (or cold starts) by the consumers
    note: str = ""

    def ops(self, kind: str | None = None) -> list[Op]:
        return [op for w in self.workers if kind in (None, w.kind) for op in w.ops]

    def failures(self, kind: str | None = None) -> int:
        return sum(1 for op in self.ops(kind) if op.user is None)

    def convergence(self, kind: str | None = None) -> list[float | None]:
        """Per flip: seconds until no worker starts an operation with the old color any more.

        That is the start of the last operation, begun after the flip and before the next one, that
        did not log in as the flag's new color (a failure counts as not converged), or 0 when there
        is none. ``None`` (never): a worker's last operation in the window still was not on the new
        color. Operation starts, not ends, are used: an operation in flight at the switch is work in
        progress, not a stale read, and on this single-process stack one can take half a second.
        """
        out: list[float | None] = []
        for i, (t_flip, user) in enumerate(self.flips):
            until = self.flips[i + 1][0] if i + 1 < len(self.flips) else self.end
            worst: float | None = 0.0
            for w in self.workers:
                if kind not in (None, w.kind):
                    continue
                window = [op for op in w.ops if t_flip <= op.start < until]
                if not window:
                    continue
                if window[-1].user != user:
                    worst = None
                    break
                stale = [op.start for op in window if op.user != user]
                if stale:
                    worst = max(worst or 0.0, max(stale) - t_flip)
            out.append(worst)
        return out


def fmt_conv(values: list[float | None]) -> str:
    if not values:
        return "-"
    return " / ".join("never" if v is None else f"{v:.2f}s" for v in values)


def print_table(results: list[Result], cold: dict[str, float] | None, delay_ms: float) -> None:
    headers = [
        "scenario",
        "ops",
        "failed (lambda/server)",
        "convergence per flip: lambda | server",
        "PS calls/refresh",
    ]
    rows = []
    for r in results:
        per_refresh = (
            "-" if not r.ps_refreshes or r.ps_calls is None else f"{r.ps_calls / r.ps_refreshes:.2f}"
        )
        rows.append(
            [
                r.name,
                str(len(r.ops())),
                f"{r.failures()} ({r.failures('lambda')}/{r.failures('server')})",
                f"{fmt_conv(r.convergence('lambda'))} | {fmt_conv(r.convergence('server'))}",
                per_refresh,
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(headers))
    print()
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)))
    print()
    for r in results:
        if r.note:
            print(f"  {r.name}: {r.note}")
    print_cold(cold, delay_ms)


def print_cold(cold: dict[str, float] | None, delay_ms: float) -> None:
    if cold is None:
        return
    print(
        f"\ncold-start configuration read, {delay_ms:.0f} ms injected per AWS call (median of "
        f"{int(cold['n'])}): layer 1 call {cold['layer'] * 1000:.1f} ms, seed 3 calls "
        f"{cold['seed'] * 1000:.1f} ms, ratio seed/layer {cold['seed'] / cold['layer']:.2f}x"
    )


class LockHeldAcrossCall:
    """The consumer's refresh before issue 12, for the hung-Parameter-Store baseline: one lock held
    across the GetParameters call, and every waiter refetches once it gets the lock."""

    def __init__(self, prefix: str, client: Any) -> None:
        self._names = ParameterNames(prefix)
        self._client = client
        self._lock = threading.Lock()
        self._snapshot: tuple[float, str] | None = None

    def current(self) -> tuple[float, str]:
        snap = self._snapshot
        if snap is not None and time.monotonic() - snap[0] < 1.0:
            return snap
        with self._lock:
            try:
                params = self._client.get_parameters(Names=self._names.all(), WithDecryption=True)
                flag = next(p["Value"] for p in params["Parameters"] if p["Name"] == self._names.flag)
                self._snapshot = (time.monotonic(), flag)
            except Exception:  # the old code served the stale snapshot after a failure
                if self._snapshot is None:
                    raise
            return self._snapshot


def timed_callers(consumer: Any, callers: int, calls: int) -> list[float]:
    """``callers`` threads each calling ``consumer.current()`` ``calls`` times; every wait, seconds."""
    waits: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(callers)

    def run() -> None:
        barrier.wait()
        for _ in range(calls):
            started = time.perf_counter()
            consumer.current()
            with lock:
                waits.append(time.perf_counter() - started)
            time.sleep(0.05)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return waits


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_hung(waits: dict[str, list[float]]) -> None:
    print("\nhung Parameter Store (accepts, never answers), callers holding a just-expired snapshot:")
    for name, values in waits.items():
        print(
            f"  {name}: {len(values)} calls, wait p50 {percentile(values, 0.5) * 1000:.2f} ms, "
            f"p99 {percentile(values, 0.99) * 1000:.1f} ms, max {max(values) * 1000:.0f} ms"
        )
    if len(waits) == 2:
        layer, before = waits.values()
        print(
            f"  ratio of p99 waits, before/layer: {percentile(before, 0.99) / percentile(layer, 0.99):.0f}x"
        )


# -- scenarios ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.db = MariaDB()
        self.moto: MotoServer | None = None
        self.n = 0
        self.lambda_workers = args.workers // 2
        self.server_count = max(1, (args.workers - self.lambda_workers) // SERVER_THREADS)

    def app(
        self, policy: str, password: str = INITIAL_PASSWORD
    ) -> tuple[AppDatabase, ParameterNames, Any, Any]:
        self.n += 1
        prefix = f"/bench/zd{self.n}"
        os.environ.update(
            {
                "PARAMETER_PREFIX": prefix,
                "DB_TLS_MODE": "disable",
                "BLUEGREEN_DB_TLS_MODE": "disable",  # the bench's MariaDB serves no TLS
                "ROTATION_GRACE_SECONDS": str(self.args.grace),
                "ACTIVE_SESSION_POLICY": policy,
            }
        )
        sm = boto3.client("secretsmanager")
        ssm = boto3.client("ssm")
        app = seed_application(
            self.db,
            sm,
            name=f"bench/zd{self.n}-{uuid.uuid4().hex[:6]}",
            username=f"zd{self.n}",
            password=password,
            dbname=f"zd{self.n}",
        )
        return app, ParameterNames(prefix), sm, ssm

    def _workers(self, tag: str, lambda_connect: Callable[[], Any], engines: list[Any]) -> list[Worker]:
        """Lambda-style workers (one connect function each) and SERVER_THREADS threads per engine."""
        workers = [
            Worker(f"{tag}-lambda-{i}", "lambda", pymysql_op(lambda_connect()))
            for i in range(self.lambda_workers)
        ]
        for s, engine in enumerate(engines):
            workers += [
                Worker(f"{tag}-server-{s}-{t}", "server", engine_op(engine)) for t in range(SERVER_THREADS)
            ]
        return workers

    def _drive(
        self, tag: str, workers: list[Worker], engines: list[Any], count: int, change: Callable[[int], Any]
    ) -> tuple[list[Any], float]:
        """Keeps the load running while ``change(i)`` happens ``count`` times (see :meth:`_changes`)."""
        with running(workers):
            results, end = self._changes(tag, count, change)
        for engine in engines:
            engine.dispose()
        return results, end

    def _changes(self, tag: str, count: int, change: Callable[[int], Any]) -> tuple[list[Any], float]:
        """``change(i)`` ``count`` times under the caller's running load; returns its results and the
        end time (two TTLs after the last change, so every worker has had time to converge)."""
        results = []
        time.sleep(1.0)
        for i in range(count):
            results.append(change(i))
            log(f"{tag}: change {i + 1}/{count} done ({results[-1][1]})")
        time.sleep(self.args.ttl * 2 + 0.5)
        return results, time.monotonic()

    def layer(self) -> Result:
        a = self.args
        app, names, sm, ssm = self.app("fail")
        rot = Rotations(sm, ssm, app, names, a.grace)
        rot.rotate()  # adoption: creates green and the Parameter Store mirror
        calls: collections.Counter[str] = collections.Counter()
        consumers: list[BlueGreenConsumer] = []

        def consumer() -> BlueGreenConsumer:
            c = BlueGreenConsumer(names.prefix, ttl=a.ttl)
            count_ssm_calls(c.client, calls)
            consumers.append(c)
            return c

        engines = [
            create_engine(
                "writer",
                consumer=consumer(),
                pool_size=SERVER_THREADS,
                max_overflow=0,
                pool_recycle=POOL_RECYCLE,
                drain_interval=a.ttl,
            )
            for _ in range(self.server_count)
        ]
        workers = self._workers("layer", lambda: consumer().connect, engines)
        log(f"layer: {len(workers)} workers, TTL {a.ttl}s, grace {a.grace}s, {a.rotations} rotations")
        flips, end = self._drive("layer", workers, engines, a.rotations, lambda _i: rot.rotate())
        refreshes = sum(c.refreshes for c in consumers)
        total_ops = sum(len(w.ops) for w in workers)
        note = (
            f"{sum(calls.values())} Parameter Store calls ({dict(calls)}) for {total_ops} operations by "
            f"{len(consumers)} consumers; rotation steps refused and retried: {rot.refused_attempts}"
        )
        return Result("layer (this project)", workers, flips, end, sum(calls.values()), refreshes, note)

    def in_place(self) -> Result:
        a = self.args
        app, _names, _sm, _ssm = self.app("warn", INITIAL_PASSWORD)
        # Read once at "start-up", as a server with its password in configuration does.
        url = build_url(
            "mysql+pymysql", app.username, INITIAL_PASSWORD, self.db.host, self.db.port, app.dbname
        )
        engines = [static_engine(url) for _ in range(self.server_count)]
        workers = self._workers("inplace", lambda: static_pymysql(url), engines)
        log(f"in-place: {len(workers)} workers, {a.rotations} ALTER USER password changes")

        def change(i: int) -> tuple[float, str]:
            if i:
                time.sleep(a.grace + 1.0)  # the same spacing as the layer's rotations
            self.db.execute(
                "ALTER USER %s@'%%' IDENTIFIED BY %s", (app.username, f"changed-{i}-{uuid.uuid4().hex}")
            )
            return time.monotonic(), app.username

        _flips, end = self._drive("in-place", workers, engines, a.rotations, change)
        # Same user throughout: "convergence" is meaningless; failures tell the story.
        return Result(
            "baseline a: in-place ALTER USER",
            workers,
            [],
            end,
            0,
            None,
            "credentials read at start-up; no Parameter Store; every new connection after the change fails",
        )

    def seed(self) -> Result:
        a = self.args
        app, names, sm, ssm = self.app("warn")
        rot = Rotations(sm, ssm, app, names, a.grace)
        rot.rotate()  # the mirror exists, flag: green
        calls: collections.Counter[str] = collections.Counter()
        cold_starts = 0

        def cold_start() -> SeedLayer:
            nonlocal cold_starts
            client = boto3.client("ssm")
            count_ssm_calls(client, calls)
            cold_starts += 1
            return SeedLayer(client, names.prefix)

        engines = [static_engine(cold_start().writer_db_url) for _ in range(self.server_count)]
        workers = self._workers("seed", lambda: static_pymysql(cold_start().writer_db_url), engines)
        log(f"seed: {len(workers)} workers read the flag once at cold start; 2 rotations")
        flips, end = self._drive("seed", workers, engines, 2, lambda _i: rot.rotate())
        return Result(
            "baseline b: seed layer (read once)",
            workers,
            flips,
            end,
            sum(calls.values()),
            cold_starts,
            "never follows the flag; rotation 1 leaves its color valid, rotation 2 changes its password",
        )

    # -- server runtimes (issue 12) --------------------------------------------------------------

    def prefork(self) -> Result:
        """P forked processes x T threads sharing what the parent built before forking."""
        a = self.args
        app, names, sm, ssm = self.app("fail")
        rot = Rotations(sm, ssm, app, names, a.grace)
        rot.rotate()
        consumer = BlueGreenConsumer(names.prefix, ttl=a.ttl)
        engine = create_engine(
            "writer",
            consumer=consumer,
            pool_size=a.threads,
            max_overflow=0,
            pool_recycle=POOL_RECYCLE,
            drain_interval=a.ttl,
        )
        engine_op(engine)()  # the parent used its pool and its consumer before forking (--preload)
        calls_at_fork = consumer.parameter_calls
        stop_r, stop_w = os.pipe()
        children: list[tuple[int, int]] = []
        for p in range(a.processes):
            res_r, res_w = os.pipe()
            pid = os.fork()
            if pid == 0:  # a worker process
                os.close(stop_w)
                os.close(res_r)
                try:
                    workers = [
                        Worker(f"prefork-{p}-server-{t}", "server", engine_op(engine))
                        for t in range(a.threads)
                    ]
                    workers.append(Worker(f"prefork-{p}-lambda", "lambda", pymysql_op(consumer.connect)))
                    with running(workers):
                        select.select([stop_r], [], [])  # until the parent closes the pipe
                    report = {
                        "calls": consumer.parameter_calls - calls_at_fork,
                        "workers": [
                            [w.name, w.kind, [[o.start, o.end, o.user, o.error] for o in w.ops]]
                            for w in workers
                        ],
                    }
                    data = json.dumps(report).encode()
                    while data:
                        data = data[os.write(res_w, data) :]
                finally:
                    os._exit(0)
            os.close(res_w)
            children.append((pid, res_r))
        os.close(stop_r)
        log(f"prefork: {a.processes} processes x ({a.threads} engine threads + 1 connect thread)")
        flips, end = self._changes("prefork", a.rotations, lambda _i: rot.rotate())
        os.close(stop_w)
        workers: list[Worker] = []
        calls = 0
        for pid, res_r in children:
            chunks = []
            while chunk := os.read(res_r, 1 << 20):
                chunks.append(chunk)
            os.close(res_r)
            os.waitpid(pid, 0)
            report = json.loads(b"".join(chunks))
            calls += report["calls"]
            for name, kind, ops in report["workers"]:
                w = Worker(name, kind, lambda: "")
                w.ops = [Op(*op) for op in ops]
                workers.append(w)
        engine.dispose()
        note = (
            f"{a.processes} processes x {a.threads + 1} threads forked after the parent's first use; "
            f"{calls} Parameter Store calls in the children; rotation steps refused and retried: "
            f"{rot.refused_attempts}"
        )
        return Result(f"preforked ({a.processes}x{a.threads + 1})", workers, flips, end, None, None, note)

    def asyncio_server(self) -> Result:
        """One event loop: connect() tasks (column "lambda") and aiomysql engine tasks ("server")."""
        a = self.args
        app, names, sm, ssm = self.app("fail")
        rot = Rotations(sm, ssm, app, names, a.grace)
        rot.rotate()
        calls: collections.Counter[str] = collections.Counter()
        sync = BlueGreenConsumer(names.prefix, ttl=a.ttl)
        count_ssm_calls(sync.client, calls)
        consumer = AsyncBlueGreenConsumer(sync)
        n = max(2, a.workers // 2)
        workers = [Worker(f"asyncio-connect-{i}", "lambda", lambda: "") for i in range(n)]
        workers += [Worker(f"asyncio-engine-{i}", "server", lambda: "") for i in range(n)]
        stop = threading.Event()
        ready = threading.Event()
        who = sqlalchemy.text(WHO_SQL)

        async def direct() -> str:
            conn = await consumer.connect("writer")
            try:
                async with conn.cursor() as cur:
                    await cur.execute(WHO_SQL)
                    return str((await cur.fetchone())[0])
            finally:
                conn.close()

        async def loop_worker(w: Worker, op: Callable[[], Any]) -> None:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    w.ops.append(Op(started, time.monotonic(), await op()))
                except Exception as exc:  # noqa: BLE001 - every failure counts
                    w.ops.append(Op(started, time.monotonic(), None, f"{type(exc).__name__}: {exc.args[:1]}"))
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.005)

        async def main() -> None:
            engine = await create_async_engine(
                "writer", consumer=consumer, pool_size=n, max_overflow=0, pool_recycle=POOL_RECYCLE
            )

            async def pooled() -> str:
                async with engine.connect() as conn:
                    return str(await conn.scalar(who))

            ready.set()
            await asyncio.gather(*(loop_worker(w, direct if w.kind == "lambda" else pooled) for w in workers))
            await engine.dispose()

        thread = threading.Thread(target=lambda: asyncio.run(main()), name="asyncio-server", daemon=True)
        thread.start()
        ready.wait(30)
        log(f"asyncio: {n} connect() tasks + {n} engine tasks on one event loop")
        flips, end = self._changes("asyncio", a.rotations, lambda _i: rot.rotate())
        stop.set()
        thread.join(timeout=60)
        note = (
            f"{sum(calls.values())} Parameter Store calls ({dict(calls)}); rotation steps refused and "
            f"retried: {rot.refused_attempts}"
        )
        return Result("asyncio server", workers, flips, end, sum(calls.values()), sync.refreshes, note)

    def hung_parameter_store(self) -> dict[str, list[float]]:
        """Callers' waits while Parameter Store accepts requests and never answers."""
        from botocore.config import Config

        a = self.args
        app, names, sm, ssm = self.app("warn")
        Rotations(sm, ssm, app, names, a.grace).rotate()
        assert self.moto is not None
        proxy = StallingProxy(self.moto.port)
        config = Config(
            read_timeout=a.hung_read_timeout, retries={"mode": "standard", "total_max_attempts": 1}
        )
        waits: dict[str, list[float]] = {}
        try:
            for name, make in (
                ("layer", lambda c: BlueGreenConsumer(names.prefix, ttl=1, client=c, refresh_timeout=1.0)),
                (
                    "lock held across the call (before issue 12)",
                    lambda c: LockHeldAcrossCall(names.prefix, c),
                ),
            ):
                client = boto3.client("ssm", endpoint_url=proxy.endpoint, config=config)
                consumer = make(client)
                consumer.current()
                time.sleep(1.1)  # expired, under two TTLs: a usable stale snapshot
                proxy.stall_all()
                # The old behaviour serializes every caller behind each hung call: one call each is enough.
                calls = a.hung_calls if name == "layer" else 1
                waits[name] = timed_callers(consumer, a.hung_callers, calls)
                log(f"hung Parameter Store, {name}: {len(waits[name])} calls")
                proxy.serve_new()
        finally:
            proxy.close()
        return waits

    def cold_start(self) -> dict[str, float]:
        """Configuration read latency at cold start with a fixed delay per AWS call."""
        a = self.args
        app, names, sm, ssm = self.app("warn")
        Rotations(sm, ssm, app, names, a.grace).rotate()
        client = boto3.client("ssm")
        delay = a.delay_ms / 1000

        def slow(**_: Any) -> None:
            time.sleep(delay)

        client.meta.events.register("before-send.ssm.*", slow)
        layer_times, seed_times = [], []
        client.get_parameter(Name=names.flag)  # warm the connection pool: time only the reads
        for _ in range(a.cold_samples):
            started = time.perf_counter()
            BlueGreenConsumer(names.prefix, client=client).current()
            layer_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            SeedLayer(client, names.prefix)
            seed_times.append(time.perf_counter() - started)
        return {
            "layer": statistics.median(layer_times),
            "seed": statistics.median(seed_times),
            "n": a.cold_samples,
        }

    def run(self) -> None:
        started = time.monotonic()
        log("starting MariaDB and moto's server")
        self.db.start()
        self.moto = MotoServer().start()
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        env = {
            **aws_environment(self.moto.endpoint),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        only = set(self.args.only.split(","))
        scenarios = [
            ("layer", self.layer),
            ("inplace", self.in_place),
            ("seed", self.seed),
            ("prefork", self.prefork),
            ("asyncio", self.asyncio_server),
        ]
        hung: dict[str, list[float]] = {}
        cold: dict[str, float] | None = None
        try:
            with patched_environ(env):
                results = [run() for name, run in scenarios if name in only]
                if "hung" in only:
                    log("hung Parameter Store")
                    hung = self.hung_parameter_store()
                if "cold" in only:
                    log("cold-start configuration latency")
                    cold = self.cold_start()
        finally:
            self.moto.stop()
            self.db.stop()
        if results:
            print_table(results, cold, self.args.delay_ms)
        else:
            print_cold(cold, self.args.delay_ms)
        if hung:
            print_hung(hung)
        print(f"\ntotal bench time {time.monotonic() - started:.1f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=16, help="concurrent workers K (>= 16)")
    parser.add_argument("--rotations", type=int, default=3, help="rotations R in the layer scenario (>= 3)")
    parser.add_argument("--ttl", type=float, default=1.0, help="consumer cache TTL, seconds")
    parser.add_argument("--grace", type=int, default=2, help="ROTATION_GRACE_SECONDS (just above the TTL)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="simulated network delay per AWS call")
    parser.add_argument("--cold-samples", type=int, default=15)
    parser.add_argument("--processes", type=int, default=3, help="preforked scenario: worker processes")
    parser.add_argument(
        "--threads", type=int, default=4, help="preforked scenario: engine threads per process"
    )
    parser.add_argument("--hung-callers", type=int, default=8, help="hung scenario: concurrent callers")
    parser.add_argument("--hung-calls", type=int, default=20, help="hung scenario: calls per caller")
    parser.add_argument(
        "--hung-read-timeout", type=float, default=2.0, help="hung scenario: botocore read timeout, s"
    )
    parser.add_argument(
        "--only",
        default="layer,inplace,seed,prefork,asyncio,hung,cold",
        help="comma-separated scenarios to run (default: all)",
    )
    args = parser.parse_args(argv)
    if args.grace <= args.ttl:
        parser.error("--grace must be above --ttl: a consumer must refresh within the grace period")
    Bench(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
