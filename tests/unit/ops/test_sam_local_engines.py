"""``make invoke ENGINE=postgres``'s configuration, without Docker: the server the containers reach.

Containers reach the host only at their bridge's gateway and connect from the bridge's /24, so the
PostgreSQL stand-in must listen on the gateway and admit that network in ``pg_hba.conf``; MariaDB's
stand-in (whose users have the host part ``%``) needs only a certificate naming the gateway. The
container test runs the MySQL flow end to end; this one pins what differs for PostgreSQL.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bluegreen_ops.devstack.mariadb import MariaDB
from bluegreen_ops.devstack.postgresql import PostgreSQL
from bluegreen_ops.sam_local import DockerEngine
from bluegreen_ops.sam_local.flow import main
from bluegreen_ops.sam_local.rotation import LOCAL_ROTATION_ENV, PREFIXES, SECRET_NAMES, _database


def _docker(tmp_path: Path) -> DockerEngine:
    return DockerEngine(tmp_path, tmp_path / "docker.sock", "bgr1x1", "172.28.14.1", pid=0)


def test_postgresql_listens_on_the_gateway_and_admits_the_bridge_network(tmp_path: Path) -> None:
    db = _database("postgresql", _docker(tmp_path), tmp_path)
    try:
        assert isinstance(db, PostgreSQL)
        assert db.host == "172.28.14.1"
        assert db.client_networks == ("172.28.14.0/24",)
        assert db.tls and db.process is None  # TLS served; started by the caller's stack
    finally:
        shutil.rmtree(db.workdir, ignore_errors=True)


def test_mariadb_listens_on_the_gateway_with_a_certificate_for_it(tmp_path: Path) -> None:
    db = _database("mysql", _docker(tmp_path), tmp_path)
    try:
        assert isinstance(db, MariaDB)
        assert db.host == "172.28.14.1"
        assert db.tls is not None and db.process is None
    finally:
        shutil.rmtree(db.workdir, ignore_errors=True)


def test_the_function_encrypts_on_either_engine() -> None:
    assert LOCAL_ROTATION_ENV["DB_TLS_MODE"] == "require"


def test_an_unknown_engine_stops_before_anything_starts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--engine", "oracle"])
    assert exited.value.code == 2
    assert "unknown engine 'oracle'" in capsys.readouterr().err


def test_each_engine_has_its_own_secret_and_parameters() -> None:
    """One process's moto backend serves both flows (the container test runs both): nothing shared."""
    assert SECRET_NAMES["mysql"] != SECRET_NAMES["postgresql"]
    assert PREFIXES["mysql"] is None  # events/env.json's PARAMETER_PREFIX
    assert PREFIXES["postgresql"] and PREFIXES["postgresql"] != "/db/dev"
