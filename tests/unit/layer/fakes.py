"""Plain fakes for the consumer's unit tests: an SSM client over a dict, a hand-moved clock.

A :class:`FakeSSM` can *hold* its calls: ``hold()`` makes every GetParameters wait on an Event until
``release()``, so a test proves who waits behind a hung call by ordering (the call is entered and
still held while a caller returns) rather than by timing it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.dburl import build_url

PREFIX = "/db/unit"
BLUE_PW = "blue-S3cret/with:odd@chars%"
GREEN_PW = "green-S3cret#?&"
HOLD_LIMIT = 30.0  # a held call gives up after this long, so that a broken test fails instead of hanging


def url(user: str, password: str, host: str = "writer.example") -> str:
    return build_url("mysql+pymysql", user, password, host, 3306, "appdb")


def parameters(flag: str = "blue", blue_pw: str = BLUE_PW, green_pw: str | None = GREEN_PW) -> dict[str, str]:
    values = {
        f"{PREFIX}/blue-green-env": flag,
        f"{PREFIX}/blue/writer-db-url": url("app", blue_pw),
        f"{PREFIX}/blue/reader-db-url": url("app", blue_pw, "reader.example"),
    }
    if green_pw is not None:
        values[f"{PREFIX}/green/writer-db-url"] = url("app_green", green_pw)
        values[f"{PREFIX}/green/reader-db-url"] = url("app_green", green_pw, "reader.example")
    return values


class FakeSSM:
    """Just enough of an SSM client: GetParameters over a dict, recording every call."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.calls: list[dict[str, object]] = []
        self.failure: Callable[[], BaseException] | None = None  # raised by every call when set
        self.entered = threading.Event()  # set when a held call has started
        self.finished = threading.Event()  # set when a call has returned or raised
        self.on_call: Callable[[], None] | None = None  # runs inside every call, after it is recorded
        self._release = threading.Event()
        self._release.set()
        self._lock = threading.Lock()

    def hold(self) -> None:
        """From now on every call waits for :meth:`release` (at most HOLD_LIMIT seconds)."""
        self.entered.clear()
        self.finished.clear()
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    @property
    def held(self) -> bool:
        """A call has started and is still waiting to be released."""
        return self.entered.is_set() and not self._release.is_set()

    def get_parameters(self, *, Names: list[str], WithDecryption: bool = False) -> dict[str, object]:  # noqa: N803
        with self._lock:
            self.calls.append({"Names": list(Names), "WithDecryption": WithDecryption})
        try:
            if self.on_call is not None:
                self.on_call()
            if not self._release.is_set():
                self.entered.set()
                self._release.wait(HOLD_LIMIT)
            if self.failure is not None:
                raise self.failure()
            found = [
                {"Name": n, "Value": self.values[n], "Type": "SecureString"}
                for n in Names
                if n in self.values
            ]
            return {"Parameters": found, "InvalidParameters": [n for n in Names if n not in self.values]}
        finally:
            self.finished.set()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(
    values: dict[str, str] | None = None, ttl: float | None = 60, **kwargs
) -> tuple[BlueGreenConsumer, FakeSSM, Clock]:
    ssm = FakeSSM(parameters() if values is None else values)
    clock = Clock()
    kwargs.setdefault("tls_mode", "disable")  # the fake connections have no socket to check
    consumer = BlueGreenConsumer(PREFIX, ttl=ttl, client=ssm, clock=clock, environ={}, **kwargs)  # type: ignore[arg-type]
    return consumer, ssm, clock


def join_all(threads: list[threading.Thread]) -> None:
    """Starts and joins ``threads``; a thread still running after HOLD_LIMIT fails the test."""
    for t in threads:
        t.start()
    for t in threads:
        t.join(HOLD_LIMIT)
        assert not t.is_alive(), f"{t.name} did not finish"
