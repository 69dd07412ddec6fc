"""The mirror of a replicated secret, against plain fake SSM clients (one per region, one shared log)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError

from bluegreen_db.dburl import parse_url
from bluegreen_db.naming import ParameterNames
from bluegreen_rotation.errors import InvalidInputError, RotationRefusedError
from bluegreen_rotation.guards import GuardInput
from bluegreen_rotation.mirror import Mirror
from bluegreen_rotation.regional_mirror import (
    RegionalMirror,
    RegionMirrorError,
    check_not_in_use_anywhere,
    urls_by_region,
)
from bluegreen_rotation.regions import (
    kms_key_for_region,
    parse_regions,
    primary_region_of,
    replica_kms_keys,
    replica_regions,
)
from bluegreen_rotation.secret import DbSecret
from bluegreen_rotation.throttle import ThrottleRetry

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

PRIMARY, EAST2, WEST2 = "us-east-1", "us-east-2", "us-west-2"
NAMES = ParameterNames("/db/fleet")
SECRET = DbSecret.parse(
    json.dumps(
        {
            "engine": "aurora-mysql",
            "host": "db.cluster-abc.us-east-1.rds.amazonaws.com",
            "username": "app",
            "password": "p@ss/word",
            "masterarn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf",
            "dbname": "app",
        }
    )
)


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "refused"}}, "PutParameter")


class FakeSsm:
    """One region's Parameter Store: values by name, every call appended to the shared ``log``."""

    def __init__(self, region: str, log: list[tuple[str, str, str]]) -> None:
        self.region = region
        self.log = log
        self.values: dict[str, dict[str, Any]] = {}
        self.failures: list[ClientError] = []  # raised, in order, by the next PutParameter calls

    def put_parameter(self, **kwargs: Any) -> dict[str, Any]:
        self.log.append((self.region, "put", kwargs["Name"]))
        if self.failures:
            raise self.failures.pop(0)
        old = self.values.get(kwargs["Name"], {"Version": 0})
        self.values[kwargs["Name"]] = {
            "Name": kwargs["Name"],
            "Value": kwargs["Value"],
            "Version": old["Version"] + 1,
            "LastModifiedDate": datetime(2026, 1, 1, tzinfo=UTC),
            "KeyId": kwargs.get("KeyId"),
        }
        return {"Version": old["Version"] + 1}

    def get_parameters(self, Names: list[str], WithDecryption: bool) -> dict[str, Any]:  # noqa: N803
        self.log.append((self.region, "get", ",".join(Names)))
        return {"Parameters": [self.values[n] for n in Names if n in self.values]}


@pytest.fixture
def log() -> list[tuple[str, str, str]]:
    return []


@pytest.fixture
def clients(log: list[tuple[str, str, str]]) -> dict[str, FakeSsm]:
    return {r: FakeSsm(r, log) for r in (PRIMARY, EAST2, WEST2)}


def _mirror(clients: dict[str, FakeSsm], retry: ThrottleRetry | None = None, **kwargs: Any) -> RegionalMirror:
    return RegionalMirror.build(
        NAMES,
        PRIMARY,
        [EAST2, WEST2],
        lambda r: cast("SSMClient", clients[r]),
        retry=retry,
        **kwargs,
    )


HOSTS = {EAST2: "db.cluster-ro-def.us-east-2.rds.amazonaws.com"}
URLS = urls_by_region(SECRET, "mysql+pymysql", (PRIMARY, EAST2, WEST2), HOSTS)


def test_urls_name_the_primary_writer_everywhere_and_each_regions_reader() -> None:
    for urls in URLS.values():
        assert parse_url(urls["writer"]).host == SECRET.host
        assert parse_url(urls["writer"]).password == "p@ss/word"
    assert parse_url(URLS[EAST2]["reader"]).host == HOSTS[EAST2]
    # A region without its own readerHost gets the primary's reader.
    assert (
        parse_url(URLS[WEST2]["reader"]).host == SECRET.reader_host == parse_url(URLS[PRIMARY]["reader"]).host
    )


def test_every_regions_urls_are_written_before_any_flag(
    clients: dict[str, FakeSsm], log: list[tuple[str, str, str]]
) -> None:
    mirror = _mirror(clients)
    assert mirror.regions == (PRIMARY, EAST2, WEST2)
    mirror.write("green", URLS)
    puts = [(region, name) for region, op, name in log if op == "put"]
    flags = [i for i, (_, name) in enumerate(puts) if name == NAMES.flag]
    urls = [i for i, (_, name) in enumerate(puts) if name != NAMES.flag]
    assert len(urls) == 6 and len(flags) == 3
    assert max(urls) < min(flags)
    assert [puts[i][0] for i in flags] == [PRIMARY, EAST2, WEST2]
    states = mirror.read()
    for region in (PRIMARY, EAST2, WEST2):
        assert states[region].flag == "green"
        assert states[region].url("green", "reader") == URLS[region]["reader"]
        assert states[region].url("green", "writer") == URLS[PRIMARY]["writer"]


def test_a_region_that_cannot_be_written_raises_before_any_flag_and_a_retry_completes(
    clients: dict[str, FakeSsm],
) -> None:
    clients[WEST2].failures = [_error("AccessDeniedException")]
    mirror = _mirror(clients)
    with pytest.raises(RegionMirrorError, match=f"in {WEST2}: AccessDeniedException") as caught:
        mirror.write("green", URLS)
    assert "p@ss" not in str(caught.value) and "word" not in str(caught.value)
    assert all(NAMES.flag not in c.values for c in clients.values())
    mirror.write("green", URLS)  # the service's retry of the step
    assert all(state.flag == "green" for state in mirror.read().values())


def test_a_failing_flag_write_raises_and_a_retry_completes(clients: dict[str, FakeSsm]) -> None:
    mirror = _mirror(clients)
    mirror.write_urls("green", URLS)
    clients[EAST2].failures = [_error("InternalServerError")]
    with pytest.raises(RegionMirrorError, match=EAST2):
        mirror.write_flags("green")
    assert [mirror.read()[r].flag for r in (PRIMARY, EAST2, WEST2)] == ["green", None, None]
    mirror.write("green", URLS)
    assert all(state.flag == "green" for state in mirror.read().values())


class FakeClock:
    """Time that moves only when the retry sleeps: the schedule is proven without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_throttled_writes_are_retried_with_backoff_within_the_budget(clients: dict[str, FakeSsm]) -> None:
    clock = FakeClock()
    retry = ThrottleRetry.within(30, clock=clock, sleep=clock.sleep, jitter=lambda: 1.0)
    clients[EAST2].failures = [
        _error("ThrottlingException"),
        _error("ThrottlingException"),
        _error("TooManyUpdates"),
    ]
    mirror = _mirror(clients, retry)
    mirror.write("blue", URLS)
    assert retry.absorbed == 3
    assert clock.sleeps == [0.2, 0.4, 0.8]  # exponential, capped at max_delay, full jitter (here 1.0)
    assert all(state.flag == "blue" for state in mirror.read().values())


def test_throttling_past_the_budget_raises(clients: dict[str, FakeSsm]) -> None:
    clock = FakeClock()
    retry = ThrottleRetry.within(1.0, clock=clock, sleep=clock.sleep, jitter=lambda: 1.0)
    clients[PRIMARY].failures = [_error("ThrottlingException")] * 10
    with pytest.raises(RegionMirrorError, match=f"in {PRIMARY}: ThrottlingException"):
        _mirror(clients, retry).write("blue", URLS)
    assert sum(clock.sleeps) < 1.0 and retry.absorbed == len(clock.sleeps) == 2


def test_other_errors_are_not_retried(clients: dict[str, FakeSsm]) -> None:
    clock = FakeClock()
    retry = ThrottleRetry.within(30, clock=clock, sleep=clock.sleep)
    clients[PRIMARY].failures = [_error("ParameterLimitExceeded")]
    with pytest.raises(RegionMirrorError, match="ParameterLimitExceeded"):
        _mirror(clients, retry).write("blue", URLS)
    assert clock.sleeps == []


def test_complete_writes_only_what_differs_urls_first(
    clients: dict[str, FakeSsm], log: list[tuple[str, str, str]]
) -> None:
    mirror = _mirror(clients)
    Mirror(clients[PRIMARY], NAMES).write_url("green", "writer", URLS[PRIMARY]["writer"])  # type: ignore[arg-type]
    Mirror(clients[PRIMARY], NAMES).write_url("green", "reader", URLS[PRIMARY]["reader"])  # type: ignore[arg-type]
    Mirror(clients[PRIMARY], NAMES).write_flag("green")  # type: ignore[arg-type]
    log.clear()
    done = mirror.complete("green", URLS)
    states, changed = done.after, done.written
    assert changed == [
        f"{EAST2}:green/writer",
        f"{EAST2}:green/reader",
        f"{WEST2}:green/writer",
        f"{WEST2}:green/reader",
        f"{EAST2}:flag",
        f"{WEST2}:flag",
    ]
    assert all(state.flag == "green" for state in states.values())
    assert mirror.complete("green", URLS).written == []


def test_the_guard_refuses_a_color_any_regions_flag_names(clients: dict[str, FakeSsm]) -> None:
    mirror = _mirror(clients)
    mirror.write("blue", URLS)  # every region on blue
    clients[WEST2].put_parameter(Name=NAMES.flag, Value="green", Type="String", Overwrite=True)
    facts = GuardInput(
        target_color="green",
        target_user="app_green",
        current_user="app",
        mirror=mirror.read()[PRIMARY],
        now=datetime(2026, 2, 1, tzinfo=UTC),
        grace_seconds=900,
    )
    with pytest.raises(RotationRefusedError, match=f"^in {WEST2}: .*names green"):
        check_not_in_use_anywhere(facts, mirror.read())
    clients[WEST2].put_parameter(Name=NAMES.flag, Value="blue", Type="String", Overwrite=True)
    check_not_in_use_anywhere(facts, mirror.read())


def test_replica_regions_come_from_the_replication_status() -> None:
    describe = {
        "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf",
        "PrimaryRegion": PRIMARY,
        "ReplicationStatus": [
            {"Region": EAST2, "Status": "InSync"},
            {"Region": WEST2, "Status": "Failed", "StatusMessage": "key not found"},
        ],
    }
    assert replica_regions(describe) == (EAST2, WEST2)
    assert primary_region_of(str(describe["ARN"])) == PRIMARY
    with pytest.raises(InvalidInputError):
        primary_region_of("app/aurora")
    assert replica_regions({"ARN": describe["ARN"]}) == ()


def test_the_regions_key_is_validated() -> None:
    assert parse_regions(None) == {}
    assert parse_regions({EAST2: {"readerHost": "r.example.com"}}) == {EAST2: "r.example.com"}
    for bad in (
        [EAST2],
        {"mars": {"readerHost": "r"}},
        {EAST2: "r.example.com"},
        {EAST2: {"readerHost": "a b"}},
    ):
        with pytest.raises(InvalidInputError):
            parse_regions(bad)


KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MRK = "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
WEST2_KEY = "arn:aws:kms:us-west-2:123456789012:key/9999abcd-12ab-34cd-56ef-1234567890ab"


def test_each_region_uses_its_own_kms_key() -> None:
    assert kms_key_for_region(PRIMARY, PRIMARY, KEY, [WEST2_KEY]) == KEY
    assert kms_key_for_region(WEST2, PRIMARY, KEY, [WEST2_KEY]) == WEST2_KEY
    assert kms_key_for_region(EAST2, PRIMARY, MRK, []) == MRK.replace(":us-east-1:", ":us-east-2:")
    assert kms_key_for_region(EAST2, PRIMARY, None, []) is None  # aws/ssm everywhere
    with pytest.raises(InvalidInputError, match=EAST2):
        kms_key_for_region(EAST2, PRIMARY, KEY, [WEST2_KEY])  # never silently aws/ssm
    assert replica_kms_keys({"REPLICA_PARAMETER_KMS_KEY_ARNS": f" {WEST2_KEY} ,"}) == (WEST2_KEY,)
    assert replica_kms_keys({}) == ()
    with pytest.raises(InvalidInputError):
        replica_kms_keys({"REPLICA_PARAMETER_KMS_KEY_ARNS": "alias/mine"})


def test_the_regional_mirror_passes_each_regions_key(clients: dict[str, FakeSsm]) -> None:
    mirror = _mirror(
        clients, primary_key=KEY, replica_keys=[WEST2_KEY, KEY.replace("us-east-1", "us-east-2")]
    )
    mirror.write("green", URLS)
    assert clients[PRIMARY].values[NAMES.url("green", "reader")]["KeyId"] == KEY
    assert clients[WEST2].values[NAMES.url("green", "reader")]["KeyId"] == WEST2_KEY
    assert clients[EAST2].values[NAMES.url("green", "writer")]["KeyId"] == KEY.replace(
        "us-east-1", "us-east-2"
    )


def test_without_replicas_errors_and_refusals_read_as_a_single_regions(
    clients: dict[str, FakeSsm],
) -> None:
    """A secret without replicas keeps botocore's own errors and the guard's own words."""
    mirror = RegionalMirror.build(NAMES, PRIMARY, (), lambda region: cast("SSMClient", clients[region]))
    clients[PRIMARY].failures = [_error("InternalServerError")]
    urls = {PRIMARY: URLS[PRIMARY]}
    with pytest.raises(ClientError):
        mirror.write("green", urls)
    mirror.write("green", urls)
    facts = GuardInput(
        target_color="green",
        target_user="app_green",
        current_user="app",
        mirror=mirror.read()[PRIMARY],
        now=datetime(2026, 2, 1, tzinfo=UTC),
        grace_seconds=900,
    )
    with pytest.raises(RotationRefusedError, match=r"^refusing to change the password of 'app_green'"):
        check_not_in_use_anywhere(facts, mirror.read())
