"""The engine factory's wiring, without a database: URL handling and pool settings."""

from __future__ import annotations

import pytest

from bluegreen_db.consumer import BlueGreenConsumer
from bluegreen_db.dburl import build_url
from bluegreen_db.sqlalchemy_engine import create_engine

PREFIX = "/db/unit-engine"
PASSWORD = "p@ss:w/rd%"


class FakeSSM:
    def __init__(self) -> None:
        self.calls = 0

    def get_parameters(self, *, Names, WithDecryption=False):  # noqa: N803
        self.calls += 1
        values = {f"{PREFIX}/blue-green-env": "blue"}
        for role, host in (("writer", "w.example"), ("reader", "r.example")):
            values[f"{PREFIX}/blue/{role}-db-url"] = build_url(
                "mysql+pymysql", "app", PASSWORD, host, 3307, "appdb"
            )
        return {"Parameters": [{"Name": n, "Value": values[n]} for n in Names if n in values]}


@pytest.fixture
def consumer():
    return BlueGreenConsumer(PREFIX, client=FakeSSM(), environ={})  # type: ignore[arg-type]


def test_engine_url_has_no_password_and_the_role_host(consumer):
    engine = create_engine("reader", consumer=consumer)
    assert engine.url.password is None
    assert (engine.url.host, engine.url.port, engine.url.username, engine.url.database) == (
        "r.example",
        3307,
        "app",
        "appdb",
    )
    assert PASSWORD not in repr(engine)
    assert PASSWORD not in str(engine.url)


def test_engine_pool_defaults_pre_ping_and_recycle(consumer):
    engine = create_engine("writer", consumer=consumer, pool_size=3)
    assert engine.pool._pre_ping is True
    assert engine.pool._recycle == 300
    assert engine.pool.size() == 3


def test_engine_and_consumer_share_one_snapshot(consumer):
    create_engine("writer", consumer=consumer)
    create_engine("reader", consumer=consumer)
    assert consumer.parameter_calls == 1


def test_drain_interval_must_be_positive(consumer):
    with pytest.raises(ValueError, match="drain_interval"):
        create_engine("writer", consumer=consumer, drain_interval=0)
