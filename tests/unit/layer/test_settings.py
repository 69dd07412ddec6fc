"""Settings resolution: an explicit argument wins over the environment, which wins over the default."""

from __future__ import annotations

import pytest

from bluegreen_db.settings import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_REFRESH_TIMEOUT,
    DEFAULT_TTL_SECONDS,
    ConsumerSettings,
    resolve_max_attempts,
    resolve_refresh_timeout,
    resolve_retry_mode,
    resolve_ttl,
)


def test_ttl_argument_beats_environment_beats_default():
    assert resolve_ttl(None, {}) == DEFAULT_TTL_SECONDS == 60
    assert resolve_ttl(None, {"BLUEGREEN_CACHE_TTL": "15"}) == 15
    assert resolve_ttl(5, {"BLUEGREEN_CACHE_TTL": "15"}) == 5
    assert resolve_ttl(None, {"BLUEGREEN_CACHE_TTL": " "}) == 60
    assert resolve_ttl(0, {}) == 0  # zero is allowed: fetch on every read


@pytest.mark.parametrize("raw", ["abc", "-1", "nan", "inf"])
def test_a_bad_ttl_is_refused_naming_the_variable(raw):
    with pytest.raises(ValueError, match="BLUEGREEN_CACHE_TTL"):
        resolve_ttl(None, {"BLUEGREEN_CACHE_TTL": raw})


def test_a_bad_explicit_ttl_is_refused_naming_the_argument():
    with pytest.raises(ValueError, match="ttl must be"):
        resolve_ttl(-1, {})


def test_refresh_timeout_resolution_and_it_must_be_positive():
    assert resolve_refresh_timeout(None, {}) == DEFAULT_REFRESH_TIMEOUT == 5.0
    assert resolve_refresh_timeout(None, {"BLUEGREEN_REFRESH_TIMEOUT": "2.5"}) == 2.5
    assert resolve_refresh_timeout(1, {"BLUEGREEN_REFRESH_TIMEOUT": "2.5"}) == 1
    with pytest.raises(ValueError, match="refresh_timeout"):
        resolve_refresh_timeout(0, {})
    with pytest.raises(ValueError, match="BLUEGREEN_REFRESH_TIMEOUT"):
        resolve_refresh_timeout(None, {"BLUEGREEN_REFRESH_TIMEOUT": "soon"})


def test_retry_mode_standard_by_default_adaptive_by_argument_or_environment():
    assert resolve_retry_mode(None, {}) == "standard"
    assert resolve_retry_mode(None, {"AWS_RETRY_MODE": "adaptive"}) == "adaptive"
    assert resolve_retry_mode("standard", {"AWS_RETRY_MODE": "adaptive"}) == "standard"
    with pytest.raises(ValueError, match="legacy"):
        resolve_retry_mode("legacy", {})


def test_max_attempts_is_left_to_botocore_when_the_environment_sets_it():
    assert resolve_max_attempts(None, {}) == DEFAULT_MAX_ATTEMPTS == 5
    assert resolve_max_attempts(None, {"AWS_MAX_ATTEMPTS": "2"}) is None  # botocore reads it itself
    assert resolve_max_attempts(3, {"AWS_MAX_ATTEMPTS": "2"}) == 3
    with pytest.raises(ValueError, match="max_attempts"):
        resolve_max_attempts(0, {})


def test_consumer_settings_resolve_everything_from_one_environment():
    env = {
        "ENV": "prod",
        "BLUEGREEN_CACHE_TTL": "30",
        "BLUEGREEN_REFRESH_TIMEOUT": "2",
        "AWS_RETRY_MODE": "adaptive",
        "BLUEGREEN_DB_TLS_MODE": "require",
    }
    settings = ConsumerSettings.resolve(environ=env)
    assert settings.names.flag == "/db/prod/blue-green-env"
    assert (settings.ttl, settings.refresh_timeout, settings.retry_mode) == (30, 2, "adaptive")
    assert settings.tls.mode == "require"
    assert (settings.forced_refresh_interval, settings.stale_if_error) == (5.0, 300.0)
    explicit = ConsumerSettings.resolve("/a", ttl=1, tls_mode="disable", environ=env)
    assert (explicit.names.prefix, explicit.ttl, explicit.tls.mode) == ("/a", 1, "disable")


def test_prefix_comes_from_the_environment_like_the_rotation():
    assert ConsumerSettings.resolve(environ={"ENV": "prod"}).names.flag == "/db/prod/blue-green-env"
    assert ConsumerSettings.resolve(environ={"PARAMETER_PREFIX": "/x/y"}).names.prefix == "/x/y"
    assert ConsumerSettings.resolve("/a", environ={"PARAMETER_PREFIX": "/x"}).names.prefix == "/a"


@pytest.mark.parametrize("name", ["stale_if_error", "forced_refresh_interval"])
def test_negative_intervals_are_refused(name):
    with pytest.raises(ValueError, match=name):
        ConsumerSettings.resolve("/a", environ={}, **{name: -1})
