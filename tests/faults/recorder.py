"""The :class:`FaultRecorder`: lists every external call of an uninterrupted rotation, and, armed
with an :class:`~tests.faults.points.InjectionPoint`, fails exactly that call once in a fresh one.

It hooks the function's own Secrets Manager and SSM clients (botocore ``before-call`` /
``after-call``), wraps the engine's driver ``connect`` (:mod:`tests.faults.drivers`) and, on MySQL,
``pymysql.cursors.Cursor.execute``; :func:`cold_start` is what a crash leaves the next invocation.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pymysql
import pymysql.cursors
from botocore.exceptions import ClientError

from tests.faults.drivers import CR_SERVER_LOST, _DriverProxy, _psycopg_connect_lost, _pymysql_connect_lost
from tests.faults.points import (
    _SQL_LOCK,
    _SQL_READ,
    AWS,
    AWS_WRITES,
    CRASH,
    DB_CONNECT,
    DB_SQL,
    FAIL,
    LOST_REPLY,
    Call,
    InjectionPoint,
    SimulatedCrash,
    sql_label,
)


@dataclass
class FaultRecorder:
    """Records the function's external calls and, when armed, fails one of them once.

    Use as a context manager around a rotation, and pass :attr:`handler` to the ``RotationDriver``
    (it records which step runs, and attaches the hooks to whatever clients the function uses).
    """

    point: InjectionPoint | None = None
    engine: str = "mariadb"
    regions: tuple[str, ...] = ()  # replica regions: their cached SSM clients are hooked too
    calls: list[Call] = field(default_factory=list)
    fired: Call | None = None
    diverged: Call | None = None
    step: str | None = None
    retried: list[int] = field(default_factory=list)  # AWS calls botocore itself had to retry
    _hooked: list[Any] = field(default_factory=list)
    _connections: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)
    _cold_start_pending: bool = False
    _restore: list[Callable[[], None]] = field(default_factory=list)
    _owner: int = field(default_factory=threading.get_ident)

    # -- installation -------------------------------------------------------------------------
    def __enter__(self) -> FaultRecorder:
        if self.engine == "postgresql":
            import bluegreen_rotation.engines.postgresql.connection as pg_connection

            real_psycopg = pg_connection.psycopg
            wrapped = self._wrap_connect(psycopg.connect, _psycopg_connect_lost)
            pg_connection.psycopg = _DriverProxy(real_psycopg, wrapped)  # type: ignore[assignment]
            self._restore.append(lambda: setattr(pg_connection, "psycopg", real_psycopg))
            return self
        import bluegreen_rotation.engines.mysql.connection as database

        real_module = database.pymysql
        real_connect = pymysql.connect
        proxy = _DriverProxy(real_module, self._wrap_connect(real_connect, _pymysql_connect_lost))
        database.pymysql = proxy  # type: ignore[assignment]
        self._restore.append(lambda: setattr(database, "pymysql", real_module))

        real_execute = pymysql.cursors.Cursor.execute
        pymysql.cursors.Cursor.execute = self._wrap_execute(real_execute)  # type: ignore[method-assign]
        self._restore.append(lambda: setattr(pymysql.cursors.Cursor, "execute", real_execute))
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self._hooked:
            client.meta.events.unregister("before-call.*.*", unique_id=self._hook_id("before"))
            client.meta.events.unregister("after-call.*.*", unique_id=self._hook_id("after"))
        self._hooked.clear()
        while self._restore:
            self._restore.pop()()

    def handler(self, event: dict[str, Any], context: Any) -> Any:
        """``app.lambda_handler`` with the step recorded, the hooks attached, and cold starts played."""
        import app

        if self._cold_start_pending:
            cold_start()
            self._cold_start_pending = False
        self._attach()
        self.step = event.get("Step")
        try:
            return app.lambda_handler(event, context)
        finally:
            self.step = None

    def _hook_id(self, kind: str) -> str:
        return f"faults-{kind}-{id(self)}"

    def _attach(self) -> None:
        from bluegreen_rotation import aws
        from bluegreen_rotation.regions import regional_ssm_client

        clients = [(None, aws.secretsmanager_client()), (None, aws.ssm_client())]
        clients += [(region, regional_ssm_client(region)) for region in self.regions]
        for region, client in clients:
            if any(c is client for c in self._hooked):
                continue
            client.meta.events.register(
                "before-call.*.*",
                functools.partial(self._before_call, region=region),
                unique_id=self._hook_id("before"),
            )
            client.meta.events.register("after-call.*.*", self._after_call, unique_id=self._hook_id("after"))
            self._hooked.append(client)

    # -- recording and firing -----------------------------------------------------------------
    def _record(self, kind: str, name: str, effect: bool, detail: str = "") -> tuple[Call, str | None]:
        call = Call(len(self.calls), kind, name, self.step, effect, detail)
        self.calls.append(call)
        point = self.point
        if self.fired is None and point is not None and point.call.index == call.index:
            if (point.call.kind, point.call.name, point.call.detail) != (kind, name, detail):
                self.diverged = call  # the sequence changed: leave this run alone, the test reports it
                return call, None
            self.fired = call
            return call, point.mode
        return call, None

    def _before_call(
        self,
        model: Any,
        params: dict[str, Any],
        context: dict[str, Any],
        region: str | None = None,
        **_: Any,
    ) -> None:
        service = model.service_model.service_name
        name = f"{service}.{model.name}"
        detail = ""
        if model.name == "PutParameter":
            parameter = str(json.loads(params.get("body") or b"{}").get("Name", ""))
            keep = 2 if parameter.endswith("-db-url") else 1
            detail = "/".join(parameter.split("/")[-keep:])
            if region:
                detail = f"{region}:{detail}"
        call, mode = self._record(AWS, name, model.name in AWS_WRITES, detail)
        context["faults_mode"] = mode
        context["faults_index"] = call.index
        if mode == FAIL:
            raise _client_error(self._code(), model.name)

    def _after_call(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if parsed.get("ResponseMetadata", {}).get("RetryAttempts"):
            self.retried.append(context["faults_index"])
        mode = context.get("faults_mode")
        if mode == LOST_REPLY:
            raise _client_error(self._code(), model.name)
        if mode == CRASH:
            self._cold_start_pending = True
            raise SimulatedCrash(f"the function died after {model.name} took effect")

    def _code(self) -> str:
        assert self.point is not None
        return self.point.error_code or "InternalServiceError"

    def _wrap_connect(self, real: Callable[..., Any], lost: Callable[[], Exception]) -> Callable[..., Any]:
        def connect(*args: Any, **kwargs: Any) -> Any:
            # User names carry the stack's number (app7, app7_green): the label must not.
            user = re.sub(r"\d+", "N", str(kwargs.get("user")))
            _call, mode = self._record(DB_CONNECT, f"connect {user}", False)
            if mode == FAIL:
                raise lost()
            conn = real(*args, **kwargs)
            self._connections.add(conn)
            return conn

        return connect

    def _wrap_execute(self, real: Callable[..., Any]) -> Callable[..., Any]:
        recorder = self

        def execute(cursor: Any, query: str, args: Any = None) -> Any:
            conn = cursor.connection
            if conn is None or threading.get_ident() != recorder._owner or conn not in recorder._connections:
                return real(cursor, query, args)
            effect = not _SQL_READ.match(query) or bool(_SQL_LOCK.search(query))
            _call, mode = recorder._record(DB_SQL, sql_label(query), effect)
            if mode == FAIL:
                conn._force_close()
                raise pymysql.err.OperationalError(
                    CR_SERVER_LOST, "Lost connection to server during query (injected)"
                )
            result = real(cursor, query, args)
            if mode == LOST_REPLY:
                conn._force_close()
                raise pymysql.err.OperationalError(
                    CR_SERVER_LOST, "Lost connection to server during query (injected)"
                )
            if mode == CRASH:
                conn._force_close()
                recorder._cold_start_pending = True
                raise SimulatedCrash(f"the function died after {sql_label(query)} took effect")
            return result

        return execute


def cold_start() -> None:
    """What a new execution environment starts with: no cached secret values, new clients."""
    import app
    from bluegreen_rotation import aws

    app._store = None
    aws.reset_clients()


def _client_error(code: str, operation: str) -> ClientError:
    status = 400 if code == "ThrottlingException" else 500
    return ClientError(
        {
            "Error": {"Code": code, "Message": "injected fault"},
            "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 0},
        },
        operation,
    )
