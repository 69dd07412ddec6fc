"""The shared naming and URL codec: one place for the writer and every reader."""

from __future__ import annotations

import string

import pytest
from sqlalchemy.engine import make_url

from bluegreen_db.dburl import build_url, parse_url, redact
from bluegreen_db.naming import ParameterNames, other_color, parse_color, resolve_prefix


def test_prefix_resolution_order():
    assert resolve_prefix(None, {}) == "/db/dev"
    assert resolve_prefix(None, {"ENV": "prod"}) == "/db/prod"
    assert resolve_prefix(None, {"ENV": "prod", "PARAMETER_PREFIX": "/x/y/"}) == "/x/y"
    assert resolve_prefix("/explicit", {"PARAMETER_PREFIX": "/x"}) == "/explicit"
    with pytest.raises(ValueError, match="not a Parameter Store path"):
        resolve_prefix("db/no-slash", {})


def test_names():
    n = ParameterNames("/db/prod")
    assert n.flag == "/db/prod/blue-green-env"
    assert n.url("green", "reader") == "/db/prod/green/reader-db-url"
    assert n.all() == [
        "/db/prod/blue-green-env",
        "/db/prod/blue/writer-db-url",
        "/db/prod/blue/reader-db-url",
        "/db/prod/green/writer-db-url",
        "/db/prod/green/reader-db-url",
    ]


def test_colors():
    assert other_color("blue") == "green" and other_color("green") == "blue"
    with pytest.raises(ValueError, match="expected 'blue' or 'green'"):
        parse_color("Blue")


@pytest.mark.parametrize("password", [string.printable.strip(), "p@ss:w/rd?#[]%25", "ü-unicode-é", " lead"])
def test_urls_round_trip_through_urllib_and_sqlalchemy(password):
    url = build_url("mysql+pymysql", "app_green", password, "db.example.com", 3306, "appdb")
    parsed = parse_url(url)
    assert (parsed.username, parsed.password, parsed.host, parsed.port, parsed.database) == (
        "app_green",
        password,
        "db.example.com",
        3306,
        "appdb",
    )
    sa = make_url(url)
    assert (sa.username, sa.password, sa.host, sa.port, sa.database) == (
        "app_green",
        password,
        "db.example.com",
        3306,
        "appdb",
    )


def test_redaction_never_shows_the_password():
    url = build_url("mysql+pymysql", "app", "Secret/@:pw", "h", 3306, "d")
    assert "Secret" not in redact(url) and "***" in redact(url)
    assert "Secret" not in repr(parse_url(url)) and "Secret" not in str(parse_url(url))
    assert "Secret" not in redact("garbage://app:Secret@@")
