"""Without moto (the ``local`` extra), the commands that need it say which extra to install."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bluegreen_ops.cli import main
from bluegreen_ops.devstack import moto_server

EXTRA = "pip install 'bluegreen-rotation[local]'"


@pytest.fixture
def no_moto(monkeypatch):
    monkeypatch.setattr(moto_server, "moto_installed", lambda: False)


def test_local_up_names_the_extra_and_starts_nothing(no_moto, tmp_path):
    result = CliRunner().invoke(main, ["local", "up", "--state-dir", str(tmp_path / "stack")])
    assert result.exit_code == 1
    assert (
        f"error: `bluegreen local up` needs moto, which the `local` extra installs: {EXTRA}" in result.output
    )
    assert not (tmp_path / "stack").exists()


def test_rotate_now_local_names_the_extra_in_its_json_error_document(no_moto):
    result = CliRunner().invoke(
        main, ["rotate-now", "--local", "--secret-id", "app/aurora", "--output", "json"]
    )
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["error"]["code"] == "failed"
    assert EXTRA in document["error"]["message"] and "rotate-now --local" in document["error"]["message"]
