"""The Django backend against the real stack: Django's test client, a tiny view, three real rotations.

Settings are configured once per process (``settings.configure``); the backend takes its prefix from
``PARAMETER_PREFIX``, which each test's stack sets, and caches one consumer per prefix.
"""

from __future__ import annotations

import threading
import time
from types import ModuleType

import pytest

django = pytest.importorskip("django")

WHO_SQL = "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"


def _who(request):
    from django.db import connection
    from django.http import HttpResponse

    with connection.cursor() as cur:
        cur.execute(WHO_SQL)
        (user,) = cur.fetchone()
    return HttpResponse(str(user))


def _configure(ttl: float) -> None:
    from django.conf import settings
    from django.urls import path

    if not settings.configured:
        urls = ModuleType("bluegreen_test_urls")  # ROOT_URLCONF may be a module object
        urls.urlpatterns = [path("who", _who)]  # type: ignore[attr-defined]
        settings.configure(
            DEBUG=False,
            SECRET_KEY="tests-only-not-a-secret",
            ALLOWED_HOSTS=["testserver"],
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
            ROOT_URLCONF=urls,
            DATABASES={
                "default": {
                    "ENGINE": "bluegreen_db_django",
                    "NAME": "",
                    "CONN_MAX_AGE": 60,  # persistent: the backend must close old-color sessions itself
                    "BLUEGREEN": {"role": "writer", "ttl": ttl},
                }
            },
        )
        django.setup()


@pytest.mark.slow
def test_django_test_client_through_three_rotations(layer_stack, rotator, ttl, no_password_in_logs):
    stack = layer_stack
    assert rotator.rotate() == "green"  # adoption
    _configure(ttl)
    from django.db import connections
    from django.test import Client

    users = {"blue": stack.app.username, "green": f"{stack.app.username}_green"}
    seen: list[tuple[float, str]] = []
    errors: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        client = Client(raise_request_exception=True)
        try:
            while not stop.is_set():
                try:
                    response = client.get("/who")
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}")
                    else:
                        seen.append((time.monotonic(), response.content.decode()))
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.01)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=serve) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        flags = rotator.rotate_under_load(no_password_in_logs, settle=ttl * 2.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    assert errors == []
    assert flags == ["blue", "green", "blue"]
    assert {user for _, user in seen} == set(users.values())
    last = rotator.last_finished
    assert last is not None
    assert {user for ts, user in seen if ts > last + ttl * 2 + 0.1} == {users["blue"]}


def test_django_access_denied_refreshes_once_and_retries(layer_stack, rotator, ttl, count_ssm_calls):
    stack = layer_stack
    rotator.rotate()  # green
    _configure(ttl)
    from django.db import connections

    from bluegreen_db_django.base import DatabaseWrapper
    from bluegreen_db_django.follow import consumer_for

    settings_dict = {**connections.settings["default"], "CONN_MAX_AGE": 0}
    settings_dict["BLUEGREEN"] = {"role": "writer", "ttl": 3600}  # the snapshot never expires by itself
    # Counted from the first read: building the wrapper reads the snapshot (its URL's scheme picks it).
    calls = count_ssm_calls(consumer_for(settings_dict["BLUEGREEN"]).client)
    wrapper = DatabaseWrapper(settings_dict, alias="bluegreen-1045")

    def who() -> str:
        with wrapper.cursor() as cur:
            cur.execute(WHO_SQL)
            return str(cur.fetchone()[0])

    assert who() == f"{stack.app.username}_green"
    wrapper.close()  # no green session left, so the rotations may change green's password
    rotator.rotate()  # blue
    rotator.rotate()  # green, new password: the cached one is wrong now
    assert who() == f"{stack.app.username}_green"
    wrapper.close()
    assert calls["GetParameters"] == 2  # the first read and one forced refresh
