"""Baseline a: one user, credentials read at start-up, R in-place ``ALTER USER`` password changes."""

from __future__ import annotations

import time
import uuid

from bluegreen_db.dburl import build_url

from ..baselines import static_engine, static_pymysql
from ..harness import INITIAL_PASSWORD, Harness
from ..load import log
from ..results import Result


def run(harness: Harness) -> Result:
    a = harness.args
    app = harness.application("warn", INITIAL_PASSWORD).app
    # Read once at "start-up", as a server with its password in configuration does.
    url = build_url(
        "mysql+pymysql", app.username, INITIAL_PASSWORD, harness.db.host, harness.db.port, app.dbname
    )
    engines = [static_engine(url) for _ in range(harness.server_count)]
    workers = harness.workers("inplace", lambda: static_pymysql(url), engines)
    log(f"in-place: {len(workers)} workers, {a.rotations} ALTER USER password changes")

    def change(i: int) -> tuple[float, str]:
        if i:
            time.sleep(a.grace + 1.0)  # the same spacing as the layer's rotations
        harness.db.execute(
            "ALTER USER %s@'%%' IDENTIFIED BY %s", (app.username, f"changed-{i}-{uuid.uuid4().hex}")
        )
        return time.monotonic(), app.username

    _flips, end = harness.drive("in-place", workers, engines, a.rotations, change)
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
