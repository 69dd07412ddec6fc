"""The snapshot model: built whole from one read's values, or refused naming the parameter."""

from __future__ import annotations

import pytest

from bluegreen_db.errors import ParameterInvalidError, ParameterMissingError
from bluegreen_db.naming import ParameterNames
from bluegreen_db.snapshot import Snapshot, check_role
from tests.unit.layer.fakes import BLUE_PW, GREEN_PW, PREFIX, parameters

NAMES = ParameterNames.for_prefix(PREFIX, {})


def test_a_snapshot_holds_the_flag_and_every_well_formed_url():
    snap = Snapshot.from_values(parameters(), NAMES)
    assert snap.color == "blue"
    assert snap.url("writer").password == BLUE_PW
    assert snap.url("reader").host == "reader.example"
    assert snap.url("writer", "green").username == "app_green"
    assert (snap.generation, snap.fetched_at) == (0, 0.0)  # stamped by the cache that keeps it


def test_the_flag_is_read_without_surrounding_whitespace():
    values = parameters()
    values[f"{PREFIX}/blue-green-env"] = "green\n"
    assert Snapshot.from_values(values, NAMES).color == "green"


def test_a_missing_flag_names_it_and_the_prefix_settings():
    values = parameters()
    del values[f"{PREFIX}/blue-green-env"]
    with pytest.raises(ParameterMissingError) as err:
        Snapshot.from_values(values, NAMES)
    assert err.value.names == [f"{PREFIX}/blue-green-env"]
    assert "PARAMETER_PREFIX" in str(err.value)


def test_a_missing_url_of_the_flags_color_names_it():
    values = parameters(flag="green")
    del values[f"{PREFIX}/green/reader-db-url"]
    with pytest.raises(ParameterMissingError, match=f"{PREFIX}/green/reader-db-url"):
        Snapshot.from_values(values, NAMES)


def test_the_other_color_may_be_missing_before_the_first_rotation():
    snap = Snapshot.from_values(parameters(flag="blue", green_pw=None), NAMES)
    assert snap.url().username == "app"
    with pytest.raises(ParameterMissingError, match=f"{PREFIX}/green/writer-db-url"):
        snap.url("writer", "green")


def test_an_invalid_flag_names_the_parameter():
    values = parameters()
    values[f"{PREFIX}/blue-green-env"] = "purple"
    with pytest.raises(ParameterInvalidError, match=f"{PREFIX}/blue-green-env.*purple"):
        Snapshot.from_values(values, NAMES)


def test_a_malformed_url_of_the_flags_color_names_the_parameter_not_the_password():
    values = parameters()
    values[f"{PREFIX}/blue/writer-db-url"] = "mysql+pymysql://app-no-password-sep-" + BLUE_PW + "@"
    with pytest.raises(ParameterInvalidError) as err:
        Snapshot.from_values(values, NAMES)
    assert f"{PREFIX}/blue/writer-db-url" in str(err.value)
    assert BLUE_PW not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_a_malformed_url_of_the_other_color_is_ignored_with_a_warning(caplog):
    values = parameters()
    values[f"{PREFIX}/green/writer-db-url"] = "not a url " + GREEN_PW
    snap = Snapshot.from_values(values, NAMES)
    assert ("green", "writer") not in snap.urls
    assert "ignoring" in caplog.text and GREEN_PW not in caplog.text


def test_the_repr_masks_every_password():
    snap = Snapshot.from_values(parameters(), NAMES)
    for text in (repr(snap), str(snap), str(snap.urls)):
        assert BLUE_PW not in text and GREEN_PW not in text
    assert "***" in repr(snap)


def test_roles_are_checked():
    assert check_role("reader") == "reader"
    with pytest.raises(ValueError, match="role"):
        check_role("admin")
    with pytest.raises(ValueError, match="role"):
        Snapshot.from_values(parameters(), NAMES).url("admin")  # type: ignore[arg-type]
