from __future__ import annotations

import json

import pytest

from bluegreen_rotation.errors import InvalidInputError
from bluegreen_rotation.secret import DbSecret, MasterSecret

MASTER = "arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf"


def secret(**changes):
    value = {
        "engine": "aurora-mysql",
        "host": "app.cluster-abc.us-east-1.rds.amazonaws.com",
        "username": "app",
        "password": "pw-123456",
        "masterarn": MASTER,
        "dbname": "appdb",
    }
    value.update(changes)
    return json.dumps({k: v for k, v in value.items() if v is not None})


def test_adopted_single_user_secret_is_blue_and_green_is_derived():
    s = DbSecret.parse(secret())
    assert (s.blue_username, s.green_username, s.color, s.port) == ("app", "app_green", "blue", 3306)
    assert s.reader_host == "app.cluster-ro-abc.us-east-1.rds.amazonaws.com"


def test_next_version_is_the_other_color_and_records_the_pair():
    nxt = DbSecret.parse(secret()).next_version("new-password-1")
    data = json.loads(nxt.to_json())
    assert (data["username"], data["password"], data["blueUsername"], data["greenUsername"]) == (
        "app_green",
        "new-password-1",
        "app",
        "app_green",
    )
    assert DbSecret.parse(nxt.to_json()).color == "green"
    assert DbSecret.parse(nxt.to_json()).next_version("x" * 10).username == "app"


def test_unknown_keys_survive_a_rotation():
    s = DbSecret.parse(secret(dbClusterIdentifier="c1", proxy="p"))
    assert json.loads(s.next_version("pw-abcdefgh").to_json())["dbClusterIdentifier"] == "c1"


def test_reader_host_explicit_and_non_cluster_default():
    assert DbSecret.parse(secret(readerHost="replica.example.com")).reader_host == "replica.example.com"
    assert DbSecret.parse(secret(host="10.0.0.5")).reader_host == "10.0.0.5"


def test_password_never_in_repr():
    s = DbSecret.parse(secret(password="SuperSecret-123"))
    assert "SuperSecret-123" not in repr(s)
    m = MasterSecret.parse(json.dumps({"username": "admin", "password": "MasterSecret-1"}), s)
    assert "MasterSecret-1" not in repr(m)
    assert (m.host, m.port) == (s.host, s.port)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"engine": "mysql", "password": "SECRETVALUE"', "not valid JSON"),
        (secret(engine="oracle"), "engine 'oracle' is not supported"),
        (secret(host=None), "missing the required key 'host'"),
        (secret(port=70000), "between 1 and 65535"),
        (secret(username="a" * 33), "33 characters long"),
        (secret(username="a" * 27), "'a{27}_green' \\(greenUsername\\)"),
        (secret(username="bad'name"), "characters outside"),
        (secret(dbname="db`x"), "'dbname' is not a plain database name"),
        (secret(parameterPrefix="x"), "parameterPrefix"),
        (secret(password=12345678), "'password' must be a string"),
    ],
)
def test_bad_secrets_name_the_problem_and_never_the_password(text, match):
    with pytest.raises(InvalidInputError, match=match) as info:
        DbSecret.parse(text)
    assert "SECRETVALUE" not in str(info.value)
    assert "pw-123456" not in str(info.value)


def test_binary_secret_is_refused():
    with pytest.raises(InvalidInputError, match="no SecretString"):
        DbSecret.parse(None)


def test_the_engine_sets_the_user_name_limit_and_the_defaults(monkeypatch):
    """Port, dbname and the user-name limit are the engine's attributes, not the secret model's."""
    import bluegreen_rotation.secret as secret_module

    class LongNames:
        name = "longnames"
        default_port = 5432
        default_dbname = "postgres"
        max_user_name_bytes = 63

    monkeypatch.setattr(secret_module, "SECRET_ENGINES", ("longnames",))
    monkeypatch.setattr(secret_module, "engine_for", lambda _: LongNames())
    s = DbSecret.parse(secret(engine="longnames", dbname=None, username="a" * 57))
    assert (s.port, s.dbname, s.green_username) == (5432, "postgres", "a" * 57 + "_green")
    with pytest.raises(InvalidInputError, match="64 characters long; longnames allows at most 63"):
        DbSecret.parse(secret(engine="longnames", username="a" * 58))


def test_mysql_defaults_leave_dbname_unset():
    s = DbSecret.parse(secret(dbname=None))
    assert (s.port, s.dbname) == (3306, None)
    assert "dbname" not in json.loads(s.to_json())


def test_the_regions_key_is_validated_and_survives_every_rotation():
    regions = {"us-west-2": {"readerHost": "app.cluster-ro-w2.us-west-2.rds.amazonaws.com"}}
    s = DbSecret.parse(secret(regions=regions))
    assert s.region_reader_hosts == {"us-west-2": "app.cluster-ro-w2.us-west-2.rds.amazonaws.com"}
    assert "regions" not in s.extra
    assert json.loads(s.next_version("new-password-1").to_json())["regions"] == regions
    assert "regions" not in json.loads(DbSecret.parse(secret()).to_json())


@pytest.mark.parametrize(
    ("regions", "match"),
    [
        ("us-west-2", "must be an object"),
        ({"mars-1": {"readerHost": "r.example.com"}}, "not an AWS region"),
        ({"us-west-2": {}}, "no string 'readerHost'"),
        ({"us-west-2": {"readerHost": "bad host!"}}, "regions.us-west-2.readerHost"),
    ],
)
def test_a_bad_regions_key_names_the_problem(regions, match):
    with pytest.raises(InvalidInputError, match=match):
        DbSecret.parse(secret(regions=regions))


def test_a_master_secret_of_username_and_password_takes_host_and_port_from_the_rotated_secret():
    rotated = DbSecret.parse(secret(port=3307))
    master = MasterSecret.parse(json.dumps({"username": "admin", "password": "pw-rds-managed"}), rotated)
    assert (master.host, master.port) == (rotated.host, 3307)
