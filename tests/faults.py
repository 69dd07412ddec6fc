"""Fault injection for whole rotations: record every external call, then fail each one in turn.

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

import contextlib
import json
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pymysql
import pymysql.cursors
from botocore.exceptions import ClientError

FAIL = "fail"
LOST_REPLY = "lost-reply"
CRASH = "crash"
MODES = (FAIL, LOST_REPLY, CRASH)

AWS = "aws"
DB_CONNECT = "db-connect"
DB_SQL = "db-sql"

CR_SERVER_LOST = 2013
AWS_WRITES = {"PutSecretValue", "UpdateSecretVersionStage", "PutParameter"}
_SQL_READ = re.compile(r"^\s*(SELECT|SHOW)\b", re.IGNORECASE)
_SQL_LOCK = re.compile(r"\b(GET_LOCK|RELEASE_LOCK)\s*\(", re.IGNORECASE)

# Totals across the session, printed by the safety conftest's terminal summary.
COVERAGE: dict[str, int] = {}


def count(key: str, n: int = 1) -> None:
    COVERAGE[key] = COVERAGE.get(key, 0) + n


class SimulatedCrash(Exception):  # noqa: N818 - it is a crash, not an error the function handles
    """The execution environment died right after a call took effect."""


@dataclass(frozen=True)
class Call:
    index: int
    kind: str
    name: str
    step: str | None
    effect: bool
    detail: str = ""  # for PutParameter: the parameter, relative to the prefix (never a value)

    def __str__(self) -> str:
        detail = f" {self.detail}" if self.detail else ""
        return f"#{self.index} {self.step or '-'} {self.kind} {self.name}{detail}"


@dataclass(frozen=True)
class InjectionPoint:
    call: Call
    mode: str
    error_code: str = ""

    def __str__(self) -> str:
        code = f" {self.error_code}" if self.error_code else ""
        return f"{self.call} [{self.mode}{code}]"


def injection_points(calls: list[Call], modes: tuple[str, ...] = MODES) -> list[InjectionPoint]:
    """Every (call, mode) worth injecting: ``fail`` everywhere, the others where the call has effect.

    AWS ``fail`` faults alternate between throttling and a server error, so both are exercised.
    """
    points = []
    for call in calls:
        for mode in modes:
            if mode != FAIL and not call.effect:
                continue
            code = ""
            if call.kind == AWS:
                if mode == FAIL and call.index % 2:
                    code = "ThrottlingException"
                else:
                    code = "InternalServerError" if call.name.startswith("ssm.") else "InternalServiceError"
            points.append(InjectionPoint(call, mode, code))
    return points


def sql_label(query: str) -> str:
    """A short, password-free name for a statement: its first words (values are bound, not inlined)."""
    words = re.sub(r"\s+", " ", query.strip()).split(" ")
    label = " ".join(words[:3])
    lock = _SQL_LOCK.search(query)
    if lock:
        label = f"SELECT {lock.group(1).upper()}"
    return label


class _DriverProxy:
    """Stands in for an engine connection module's driver (``pymysql``, ``psycopg``): ``connect``
    wrapped, the rest delegated."""

    def __init__(self, real: Any, connect: Callable[..., Any]) -> None:
        self._real = real
        self.connect = connect

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@dataclass
class FaultRecorder:
    """Records the function's external calls and, when armed, fails one of them once.

    Use as a context manager around a rotation, and pass :attr:`handler` to the ``RotationDriver``
    (it records which step runs, and attaches the hooks to whatever clients the function uses).
    """

    point: InjectionPoint | None = None
    engine: str = "mariadb"
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

        for client in (aws.secretsmanager_client(), aws.ssm_client()):
            if any(c is client for c in self._hooked):
                continue
            client.meta.events.register(
                "before-call.*.*", self._before_call, unique_id=self._hook_id("before")
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

    def _before_call(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        name = f"{service}.{model.name}"
        detail = ""
        if model.name == "PutParameter":
            parameter = str(json.loads(params.get("body") or b"{}").get("Name", ""))
            keep = 2 if parameter.endswith("-db-url") else 1
            detail = "/".join(parameter.split("/")[-keep:])
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


def _pymysql_connect_lost() -> Exception:
    return pymysql.err.OperationalError(
        CR_SERVER_LOST,
        "Lost connection to server at 'handshake: reading initial communication packet' (injected)",
    )


def _psycopg_connect_lost() -> Exception:
    return psycopg.OperationalError(
        "connection to server failed: server closed the connection unexpectedly (injected)"
    )


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


# -- throttling that botocore retries by itself -------------------------------------------------
class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class ThrottleOnce:
    """A ``before-send`` hook answering the ``nth`` matching request with a 400 ThrottlingException.

    Unlike a ``before-call`` fault this sits below botocore's retry loop: standard retry mode backs
    off and sends the request again, and the caller never sees the throttle.
    """

    operation: str
    nth: int = 1
    sent: int = 0
    throttled: int = 0

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        if not target.endswith(f".{self.operation}"):
            return None
        self.sent += 1
        if self.throttled or self.sent != self.nth:
            return None
        self.throttled += 1
        body = b'{"__type":"ThrottlingException","message":"Rate exceeded (injected)"}'
        headers = {"x-amzn-RequestId": "injected", "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 400, headers, _Raw(body))


# -- a consumer reading the mirror throughout a rotation ----------------------------------------
@dataclass
class ConsumerStats:
    reads: int = 0
    logins: int = 0
    not_yet: int = 0
    failures: list[str] = field(default_factory=list)


class Consumer:
    """Reads the flag and the URLs in one GetParameters, then logs in with the flag's writer and reader
    URLs, over and over, until stopped. Failures are described without any credential."""

    def __init__(self, ssm: Any, prefix: str, pause: float = 0.01, engine: str = "mariadb") -> None:
        self._ssm = ssm
        self._prefix = prefix
        self._engine = engine
        self._pause = pause
        self._stop = threading.Event()
        self.stats = ConsumerStats()
        self._thread = threading.Thread(target=self._run, name="consumer", daemon=True)

    def __enter__(self) -> Consumer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.once()  # the end state must serve consumers too

    def _run(self) -> None:
        while not self._stop.is_set():
            self.once()
            time.sleep(self._pause)

    def once(self) -> None:
        from bluegreen_db.dburl import parse_url
        from tests.helpers import login_as

        stats = self.stats
        flag_name = f"{self._prefix}/blue-green-env"
        names = [flag_name] + [
            f"{self._prefix}/{c}/{r}-db-url" for c in ("blue", "green") for r in ("writer", "reader")
        ]
        try:
            response = self._ssm.get_parameters(Names=names, WithDecryption=True)
        except ClientError as exc:
            stats.failures.append(f"GetParameters: {exc.response.get('Error', {}).get('Code')}")
            return
        stats.reads += 1
        values = {p["Name"]: p["Value"] for p in response.get("Parameters", [])}
        color = values.get(flag_name)
        if color is None:
            stats.not_yet += 1  # before the first rotation's setSecret there is no mirror yet
            return
        for role in ("writer", "reader"):
            url = values.get(f"{self._prefix}/{color}/{role}-db-url")
            if url is None:
                stats.failures.append(f"flag names {color!r} but {color}/{role} URL is missing")
                continue
            try:
                if self._engine == "postgresql":
                    _psycopg_login(url)
                else:
                    login_as(url, connect_timeout=5, ssl_disabled=True)
            except pymysql.err.MySQLError as exc:
                stats.failures.append(f"{color}/{role} as {parse_url(url).username!r}: error {exc.args[0]}")
                continue
            except psycopg.Error as exc:
                error = exc.sqlstate or type(exc).__name__
                stats.failures.append(f"{color}/{role} as {parse_url(url).username!r}: error {error}")
                continue
            stats.logins += 1


def _psycopg_login(url: str) -> str:
    """Logs in with a URL's credentials (plaintext: the session's server is reached on loopback)."""
    from bluegreen_db.dburl import parse_url

    parsed = parse_url(url)
    with psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        sslmode="disable",
        connect_timeout=5,
    ) as conn:
        row = conn.execute("SELECT session_user").fetchone()
    return str(row[0]) if row else ""


# -- the state an uninterrupted rotation ends in ------------------------------------------------
def _logs_in_as(
    stack: Any, user: str, password: str, database: str | None = None, host: str | None = None
) -> str:
    """'' when the credentials log in as ``user``, else a credential-free description of what happened."""
    if getattr(stack, "engine", "mariadb") == "postgresql":
        return _pg_logs_in_as(stack, user, password, database, host)
    try:
        conn = pymysql.connect(
            host=host or stack.db.host,
            port=stack.db.port,
            user=user,
            password=password,
            database=database or None,
            connect_timeout=5,
            ssl_disabled=True,
        )
    except pymysql.err.MySQLError as exc:
        return f"error {exc.args[0]}"
    with conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        row = cur.fetchone()
    who = str(row[0]).split("@")[0] if row else ""
    return "" if who == user else f"logged in as {who!r}"


def _pg_logs_in_as(stack: Any, user: str, password: str, database: str | None, host: str | None) -> str:
    try:
        with psycopg.connect(
            host=host or stack.db.host,
            port=stack.db.port,
            user=user,
            password=password,
            dbname=database or stack.app.dbname,
            sslmode="disable",
            connect_timeout=5,
        ) as conn:
            row = conn.execute("SELECT session_user").fetchone()
    except psycopg.Error as exc:
        return f"error {exc.sqlstate or type(exc).__name__}"
    who = str(row[0]) if row else ""
    return "" if who == user else f"logged in as {who!r}"


def rotation_state(stack: Any, token: str, previous: str) -> tuple[dict[str, Any], list[str]]:
    """A name- and password-independent fingerprint of the end state, and every broken guarantee.

    Checked (contract guarantee 2, and the shape an uninterrupted rotation leaves): AWSCURRENT on the
    token and AWSPREVIOUS on the version it replaced, no AWSPENDING left; the flag on AWSCURRENT's
    color; each color's writer and reader URL is exactly the URL of that color's latest version and
    logs in as that color's user; AWSPREVIOUS's user logs in with its password; the two users have
    the same host part, TLS requirement and grants (PostgreSQL: the same login attributes and
    profile, read from the catalogs). Problems never quote a credential.
    """
    from bluegreen_rotation.secret import DbSecret
    from tests.helpers import probe

    problems: list[str] = []
    arn = stack.app.secret_arn
    sm = stack.secretsmanager
    versions = sm.list_secret_version_ids(SecretId=arn, IncludeDeprecated=True)["Versions"]
    label = {token: "token", previous: "previous"}
    stages = sorted(
        (label.get(v["VersionId"], "other"), tuple(sorted(v.get("VersionStages", [])))) for v in versions
    )
    by_id = {v["VersionId"]: v.get("VersionStages", []) for v in versions}
    if by_id.get(token) != ["AWSCURRENT"]:
        problems.append(f"the token holds {by_id.get(token)}, expected exactly AWSCURRENT")
    if "AWSPREVIOUS" not in by_id.get(previous, []):
        problems.append(f"the replaced version holds {by_id.get(previous)}, expected AWSPREVIOUS")
    if any("AWSPENDING" in s for s in by_id.values()):
        problems.append("AWSPENDING is still staged")

    def read(stage: str) -> DbSecret:
        text = sm.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]
        return DbSecret.parse(text, stage)

    cur, prev = read("AWSCURRENT"), read("AWSPREVIOUS")
    blue, green = cur.blue_username, cur.green_username
    if (prev.blue_username, prev.green_username) != (blue, green):
        problems.append("AWSCURRENT and AWSPREVIOUS record different user pairs")
    if cur.username == prev.username:
        problems.append("AWSCURRENT and AWSPREVIOUS name the same user")
    same_fields = all(
        getattr(cur, f) == getattr(prev, f) for f in ("engine", "host", "port", "dbname", "masterarn")
    )
    if not same_fields:
        problems.append("AWSCURRENT changed a field other than username and password")

    names = [f"{stack.prefix}/blue-green-env"] + [
        f"{stack.prefix}/{c}/{r}-db-url" for c in ("blue", "green") for r in ("writer", "reader")
    ]
    params = {p["Name"]: p for p in stack.ssm.get_parameters(Names=names, WithDecryption=True)["Parameters"]}
    flag = params.get(names[0], {}).get("Value")
    if flag != cur.color:
        problems.append(f"the flag holds {flag!r}, AWSCURRENT is {cur.color}")
    for version in (cur, prev):
        for role in ("writer", "reader"):
            name = f"{stack.prefix}/{version.color}/{role}-db-url"
            param = params.get(name)
            if param is None:
                problems.append(f"{version.color}/{role} URL is missing")
                continue
            if param["Type"] != "SecureString":
                problems.append(f"{version.color}/{role} URL is a {param['Type']}")
            if param["Value"] != version.url(role, probe(stack).url_scheme):
                problems.append(f"{version.color}/{role} URL is not that of the color's latest version")
            from bluegreen_db.dburl import parse_url

            url = parse_url(param["Value"])
            outcome = _logs_in_as(stack, version.username, url.password, url.database, url.host)
            if url.username != version.username or outcome:
                problems.append(
                    f"{version.color}/{role} URL does not log in as {version.username!r}: {outcome}"
                )
    outcome = _logs_in_as(stack, prev.username, prev.password)
    if outcome:
        problems.append(
            f"AWSPREVIOUS's user {prev.username!r} no longer logs in with its password: {outcome}"
        )

    if getattr(stack, "engine", "mariadb") == "postgresql":
        accounts, grants = _pg_accounts(stack, blue, green)
    else:
        accounts, grants = _mysql_accounts(stack, blue, green)
    if len(accounts) != 2 or accounts.get(blue) != accounts.get(green):
        problems.append(f"the users' host parts or TLS requirements differ: {sorted(accounts.items())}")
    if grants.get(blue) != grants.get(green):
        problems.append("the two users' account profiles differ")

    fingerprint = {
        "stages": stages,
        "current": cur.color,
        "flag": flag,
        "parameters": sorted((n[len(stack.prefix) :], p["Type"]) for n, p in params.items()),
        "accounts": sorted(("blue" if u == blue else "green", a) for u, a in accounts.items()),
        "grants": grants.get(blue),
    }
    return fingerprint, problems


def _mysql_accounts(stack: Any, blue: str, green: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Each user's host part and TLS requirement, and its account profile as the MySQL engine reads it."""
    from bluegreen_rotation.engines.mysql.admin import MySQLAdmin as Admin

    accounts = {
        str(u): (str(h), _plain(t))
        for u, h, t in stack.db.execute(
            "SELECT User, Host, ssl_type FROM mysql.user WHERE User IN (%s, %s)", (blue, green)
        )
    }
    with contextlib.closing(stack.db.root()) as conn:
        states = Admin(conn).account_states(*accounts)
    grants = {
        user: sorted(
            f"{k}: {v}".replace(stack.app.dbname, "{db}") for k, v in st.profile.properties().items()
        )
        for user, st in states.items()
        if st is not None
    }
    return accounts, grants


def _pg_accounts(stack: Any, blue: str, green: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Each role's login attributes, and its profile read from the catalogs (the stack's database
    name replaced, so stacks compare equal)."""
    accounts = {
        str(u): (bool(login), str(until))
        for u, login, until in stack.db.execute(
            "SELECT rolname, rolcanlogin, rolvaliduntil FROM pg_roles WHERE rolname IN (%s, %s)",
            (blue, green),
        )
    }
    from tests.helpers import grants as profile

    grants = {
        user: sorted(line.replace(stack.app.dbname, "{db}") for line in profile(stack, user))
        for user in accounts
    }
    return accounts, grants


def _plain(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)
