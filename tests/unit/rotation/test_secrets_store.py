"""The Secrets Manager access of one rotation, against a plain fake client."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from bluegreen_rotation.errors import InvalidInputError
from bluegreen_rotation.secrets_store import CURRENT, PENDING, SecretState, SecretStore
from tests.unit.rotation.fakes import ARN, MASTER_ARN, FakeSecretsManager, client_error


@pytest.fixture
def sm() -> FakeSecretsManager:
    fake = FakeSecretsManager()
    fake.add(ARN, "v1", '{"a": 1}', CURRENT)
    fake.add(ARN, "t1", None, PENDING)
    fake.add(MASTER_ARN, "m1", '{"username": "admin"}', CURRENT)
    return fake


@pytest.fixture
def store(sm: FakeSecretsManager) -> SecretStore:
    return SecretStore(sm)  # type: ignore[arg-type]


def test_describe_reads_stages_and_finds_the_unfinished_pending(store: SecretStore) -> None:
    state = store.describe(ARN)
    assert (state.arn, state.rotation_enabled, state.current_version) == (ARN, True, "v1")
    assert state.unfinished_pending == "t1"
    assert state.version_with("AWSPREVIOUS") is None


def test_a_secret_without_awscurrent_is_bad_input() -> None:
    state = SecretState.from_description({"ARN": ARN, "VersionIdsToStages": {"t1": [PENDING]}})
    with pytest.raises(InvalidInputError, match="no AWSCURRENT"):
        _ = state.current_version


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "AccessDeniedException"])
def test_describe_turns_input_errors_into_invalid_input(
    store: SecretStore, sm: FakeSecretsManager, code: str
) -> None:
    sm.fail["DescribeSecret"] = client_error(code, "DescribeSecret")
    with pytest.raises(InvalidInputError, match=code):
        store.describe(ARN)


def test_describe_leaves_transient_errors_as_botocores(store: SecretStore, sm: FakeSecretsManager) -> None:
    sm.fail["DescribeSecret"] = client_error("ThrottlingException", "DescribeSecret")
    with pytest.raises(ClientError):
        store.describe(ARN)


def test_a_version_value_is_read_once_then_served_from_the_cache(
    store: SecretStore, sm: FakeSecretsManager
) -> None:
    assert store.value(ARN, "v1", CURRENT) == '{"a": 1}'
    assert store.value(ARN, "v1", CURRENT) == '{"a": 1}'
    assert sm.calls.count("GetSecretValue") == 1


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "InvalidRequestException"])
def test_a_pending_placeholder_has_no_value_and_is_not_cached(
    store: SecretStore, sm: FakeSecretsManager, code: str
) -> None:
    sm.fail["GetSecretValue"] = client_error(code, "GetSecretValue")
    assert store.value(ARN, "t1", PENDING) is None
    store.put_pending(ARN, "t1", '{"b": 2}', None)
    assert store.value(ARN, "t1", PENDING) == '{"b": 2}', "put_pending's value is served without a read"
    assert sm.calls.count("GetSecretValue") == 1


def test_an_invalid_request_for_awscurrent_is_an_error(store: SecretStore, sm: FakeSecretsManager) -> None:
    sm.fail["GetSecretValue"] = client_error("InvalidRequestException", "GetSecretValue")
    with pytest.raises(ClientError):
        store.value(ARN, "v1", CURRENT)


def test_the_master_secret_is_read_fresh_every_time(store: SecretStore, sm: FakeSecretsManager) -> None:
    store.read_master(MASTER_ARN)
    sm.values[MASTER_ARN]["m1"] = '{"username": "rotated"}'
    assert store.read_master(MASTER_ARN) == '{"username": "rotated"}'
    sm.fail["GetSecretValue"] = client_error("AccessDeniedException", "GetSecretValue")
    with pytest.raises(InvalidInputError, match=r"master secret .* cannot be read: AccessDeniedException"):
        store.read_master(MASTER_ARN)


def test_random_password_passes_exclusions_only_when_there_are_some(store: SecretStore) -> None:
    calls: list[dict[str, object]] = []

    class Recording(FakeSecretsManager):
        def get_random_password(self, **kwargs: object) -> dict[str, object]:
            calls.append(kwargs)
            return {"RandomPassword": "x" * 8}

    recording = SecretStore(Recording())  # type: ignore[arg-type]
    recording.random_password(12, "")
    recording.random_password(12, "@/")
    assert calls == [{"PasswordLength": 12}, {"PasswordLength": 12, "ExcludeCharacters": "@/"}]


def test_put_pending_passes_the_rotation_token_only_when_given(
    sm: FakeSecretsManager, store: SecretStore
) -> None:
    seen: list[dict[str, object]] = []
    real = sm.put_secret_value

    def put(**kwargs: object) -> dict[str, object]:
        seen.append(kwargs)
        return real(**kwargs)  # type: ignore[arg-type]

    sm.put_secret_value = put  # type: ignore[method-assign]
    store.put_pending(ARN, "t1", "{}", None)
    store.put_pending(ARN, "t1", "{}", "rot-token")
    assert "RotationToken" not in seen[0]
    assert seen[1]["RotationToken"] == "rot-token"
    assert seen[1]["VersionStages"] == [PENDING]


def test_promote_moves_awscurrent_and_the_service_moves_awsprevious(
    sm: FakeSecretsManager, store: SecretStore
) -> None:
    store.put_pending(ARN, "t1", "{}", None)
    store.promote(ARN, "t1", "v1")
    assert sm.stages[ARN] == {"v1": ["AWSPREVIOUS"], "t1": [PENDING, CURRENT]}


def test_forget_drops_only_that_secrets_cached_values(sm: FakeSecretsManager, store: SecretStore) -> None:
    store.value(ARN, "v1", CURRENT)
    store.value(MASTER_ARN, "m1", CURRENT)
    store.forget(ARN)
    store.value(ARN, "v1", CURRENT)
    store.value(MASTER_ARN, "m1", CURRENT)
    assert sm.calls.count("GetSecretValue") == 3


def test_the_cache_holds_a_bounded_number_of_versions(sm: FakeSecretsManager, store: SecretStore) -> None:
    for i in range(20):
        sm.add(ARN, f"x{i}", f'{{"i": {i}}}', f"S{i}")
        store.value(ARN, f"x{i}", f"S{i}")
    before = sm.calls.count("GetSecretValue")
    store.value(ARN, "x19", "S19")
    store.value(ARN, "x0", "S0")
    assert sm.calls.count("GetSecretValue") == before + 1, "the newest stays cached, the oldest is evicted"
