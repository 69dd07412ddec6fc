"""template.yaml's parameter defaults survive `sam deploy --guided`'s samconfig.toml, read by SAM CLI itself.

`sam deploy --guided` saves every answer in samconfig.toml with SAM CLI's own writer
(``GuidedConfig._save_parameter_overrides`` quotes each value, ``SamConfig`` writes the TOML); the next
`sam deploy` reads it back through the deploy command's ``--config-file`` handling into its
``parameter_overrides``. Both halves run here in .venv-sam's interpreter (SAM CLI pins an older boto3
than the project, so it cannot be imported into this venv). SAM CLI 1.170 escapes ``"`` but not ``\\``
when writing: a value holding both comes back truncated and swallows the next parameter.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from tests.availability import skip_unless_available

ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"

ROUND_TRIP = """
import json, sys, tempfile
from pathlib import Path
from samcli.commands.deploy.command import cli as deploy
from samcli.commands.deploy.guided_config import GuidedConfig
from samcli.lib.config.samconfig import SamConfig

overrides = json.loads(sys.argv[1])
folder = Path(tempfile.mkdtemp())
config = SamConfig(str(folder))
GuidedConfig("template.yaml", "parameters")._save_parameter_overrides(["deploy"], "default", overrides, config)
config.put(["deploy"], "parameters", "stack_name", "bluegreen")
config.flush()
ctx = deploy.make_context("deploy", ["--config-file", str(folder / "samconfig.toml")])
print(json.dumps(ctx.params["parameter_overrides"]))
"""

# What a deployer answers for the parameters without a default.
ANSWERS = {
    "SecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/aurora-AbCdEf",
    "MasterSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-1a2b-XyZ123",
    "SubnetIds": "subnet-0a1b2c3d,subnet-4e5f6a7b",
    "SecurityGroupIds": "sg-0123456789abcdef0",
}


def _round_trip(overrides: dict[str, str]) -> dict[str, Any]:
    if not SAM_PYTHON.exists():
        skip_unless_available(
            ".venv-sam is missing: `make template` installs SAM CLI (`make test` does, before pytest)"
        )
    done = subprocess.run(
        [str(SAM_PYTHON), "-c", ROUND_TRIP, json.dumps(overrides)],
        cwd=ROOT,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _defaults() -> dict[str, str]:
    params = cfn_yaml.load(str(ROOT / "template.yaml"))["Parameters"]
    values = {name: str(p["Default"]) for name, p in params.items() if "Default" in p}
    return {**values, **ANSWERS}


def test_every_default_survives_samconfig_toml() -> None:
    overrides = _defaults()  # empty defaults included: guided saves them as Key=""
    assert overrides["ExcludeCharacters"] == " /@\"'"
    assert _round_trip(overrides) == overrides


def test_the_contract_default_with_a_backslash_does_not_survive() -> None:
    """Why the template's default differs from the code's: SAM CLI's own reading truncates it."""
    from bluegreen_rotation.config import DEFAULT_EXCLUDE_CHARACTERS

    overrides = {"ExcludeCharacters": DEFAULT_EXCLUDE_CHARACTERS, "DbTlsMode": "verify-full"}
    back = _round_trip(overrides)
    assert back != overrides
    assert "DbTlsMode" not in back  # swallowed into ExcludeCharacters
