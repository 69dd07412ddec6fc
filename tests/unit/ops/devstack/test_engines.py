"""``ENGINE`` words of ``make demo|invoke|bench``: every spelling names one of the two stand-ins."""

from __future__ import annotations

import pytest

from bluegreen_ops.devstack.engines import LABELS, local_engine


@pytest.mark.parametrize(
    ("word", "engine"),
    [
        ("mariadb", "mysql"),
        ("MySQL", "mysql"),
        ("aurora-mysql", "mysql"),
        ("postgres", "postgresql"),
        (" postgresql ", "postgresql"),
        ("aurora-postgresql", "postgresql"),
    ],
)
def test_each_spelling_names_its_engine(word: str, engine: str) -> None:
    assert local_engine(word) == engine
    assert LABELS[local_engine(word)]


def test_an_unknown_engine_is_refused_naming_the_accepted_words() -> None:
    with pytest.raises(ValueError, match="oracle") as raised:
        local_engine("oracle")
    assert "postgres" in str(raised.value) and "mariadb" in str(raised.value)
