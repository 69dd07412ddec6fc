"""SAM CLI: its own virtual environment, ``sam build`` and ``sam local invoke``.

SAM CLI lives in ``.venv-sam``, away from the project's environment, because it pins its own boto3.
Lambda containers run natively only on this machine's architecture, so the template's
``Architecture`` parameter is always overridden with it.
"""

from __future__ import annotations

import json
import os
import platform
import re

# Only for subprocess.TimeoutExpired: commands run through procs.run (argument lists, no shell).
import subprocess  # nosec B404
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bluegreen_ops.devstack.moto_server import REGION

from .errors import InvokeError, SamLocalError
from .paths import BUILD_CACHE_DIR, BUILD_DIR, BUILT_TEMPLATE, REPO_ROOT, SAM, SAM_VENV, TEMPLATE
from .procs import Log, run, stderr_log, which

SAM_CLI_VERSION = "1.170.0"
SAM_PYTHON_VERSION = "3.12.1"  # the interpreter `sam build` uses for python3.12 (pyenv)


def sam_executable(log: Log = stderr_log) -> Path:
    """``.venv-sam/bin/sam``, installing aws-sam-cli into ``.venv-sam`` first when it is missing."""
    if SAM.exists():
        return SAM
    started = time.monotonic()
    log(f"installing aws-sam-cli=={SAM_CLI_VERSION} into {SAM_VENV} (it pins its own boto3)")
    run([which("python3") or sys.executable, "-m", "venv", SAM_VENV])
    run(
        [
            SAM_VENV / "bin" / "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"aws-sam-cli=={SAM_CLI_VERSION}",
        ]
    )
    log(f"  installed in {time.monotonic() - started:.1f} s")
    return SAM


def host_architecture() -> str:
    """The Lambda architecture name of this machine: containers run natively only on it."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "x86_64"
    if machine in ("aarch64", "arm64"):
        return "arm64"
    raise SamLocalError(f"no Lambda architecture for machine type {machine!r}")


def template_parameters(template: Path) -> set[str]:
    """Names declared under the template's top-level ``Parameters:``."""
    names: set[str] = set()
    inside = False
    for line in template.read_text().splitlines():
        if re.match(r"^\S", line):
            inside = line.startswith("Parameters:")
            continue
        match = re.match(r"^  ([A-Za-z0-9]+):", line)
        if inside and match:
            names.add(match.group(1))
    return names


def build_parameter_overrides(template: Path, values: Mapping[str, str] | None = None) -> dict[str, str]:
    """Overrides for the parameters the template declares: the architecture, plus ``values``."""
    declared = template_parameters(template)
    overrides = {k: v for k, v in (values or {}).items() if k in declared}
    if "Architecture" in declared:
        overrides["Architecture"] = host_architecture()
    return overrides


def _overrides_args(overrides: Mapping[str, str]) -> list[str]:
    return ["--parameter-overrides", " ".join(f"{k}={v}" for k, v in overrides.items())] if overrides else []


def _sam_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without AWS_PROFILE/AWS_DEFAULT_PROFILE, telemetry off, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")}
    env["SAM_CLI_TELEMETRY"] = "0"
    env.update(extra or {})
    return env


def _python312_env() -> dict[str, str]:
    """Lets ``sam build`` find python3.12: pyenv's shim resolves with PYENV_VERSION; its bin dir first."""
    env = {"PYENV_VERSION": os.environ.get("PYENV_VERSION", SAM_PYTHON_VERSION)}
    root = Path(os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")))
    exact = root / "versions" / env["PYENV_VERSION"] / "bin"
    found = [exact] if (exact / "python3.12").exists() else []
    found += [p.parent for p in sorted(root.glob("versions/3.12*/bin/python3.12"), reverse=True)]
    if found:
        env["PATH"] = f"{found[0]}:{os.environ.get('PATH', '')}"
    return env


def sam_build(*, log: Log = stderr_log) -> Path:
    """``sam build`` (cached) of ``template.yaml`` into ``.aws-sam/build``; returns the built template.

    Lambda containers run natively only on this machine's architecture: the template's
    ``Architecture`` parameter gets it as an override.
    """
    sam = sam_executable(log)
    arch = host_architecture()
    overrides = build_parameter_overrides(TEMPLATE)
    started = time.monotonic()
    log(f"sam build ({arch}) -> {BUILD_DIR.relative_to(REPO_ROOT)}")
    if "Architecture" not in overrides:
        raise SamLocalError(f"{TEMPLATE} declares no Architecture parameter to build for {arch}")
    proc = run(
        [
            sam,
            "build",
            "--template-file",
            TEMPLATE,
            "--build-dir",
            BUILD_DIR,
            "--cached",
            "--cache-dir",
            BUILD_CACHE_DIR,
            *_overrides_args(overrides),
        ],
        env=_sam_env(_python312_env()),
        cwd=TEMPLATE.parent,
        check=False,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SamLocalError(f"sam build exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-4000:]}")
    log(f"  built in {time.monotonic() - started:.1f} s")
    return BUILT_TEMPLATE


def invoke(
    function_logical_id: str,
    event_path: Path,
    env_vars_path: Path,
    *,
    image: str,
    docker_host: str,
    extra_env: Mapping[str, str] | None = None,
    parameter_overrides: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> tuple[Any, str]:
    """``sam local invoke <id> -e <event> --env-vars <file> --invoke-image <tag> --skip-pull-image``.

    Runs the built template's function in ``image`` on the engine at ``docker_host``. Returns the
    function's result (parsed JSON) and the log text (SAM's and the function's lines, ending with the
    ``REPORT RequestId`` line). ``extra_env`` is added to SAM's environment (AWS credentials and
    region, which SAM passes to the container). Raises :class:`InvokeError` when SAM fails; a function
    error comes back as the payload Lambda returns (``errorType``, ``errorMessage``).
    """
    env = _sam_env(extra_env)
    env["DOCKER_HOST"] = docker_host
    args: list[str | Path] = [
        SAM,
        "local",
        "invoke",
        function_logical_id,
        "--template",
        BUILT_TEMPLATE,
        "--event",
        event_path,
        "--env-vars",
        env_vars_path,
        "--invoke-image",
        image,
        "--skip-pull-image",
        "--region",
        env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or REGION,
        *_overrides_args(parameter_overrides or {}),
    ]
    try:
        proc = run(args, env=env, check=False, timeout=timeout, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired as exc:
        raise InvokeError(
            f"sam local invoke {function_logical_id} timed out after {timeout} s", None, ""
        ) from exc
    logs = proc.stderr
    out = proc.stdout.strip()
    payload: Any = None
    if out:
        try:
            payload = json.loads(out.splitlines()[-1])
        except json.JSONDecodeError:
            payload = out
    if proc.returncode != 0:
        raise InvokeError(
            f"sam local invoke {function_logical_id} exited {proc.returncode}", payload, logs + out
        )
    return payload, logs


def function_log_lines(logs: str) -> list[str]:
    """The function's own lines of an invoke's log, through the ``REPORT RequestId`` line.

    They start at ``START RequestId``, or, when SAM attached to the container too late to see that
    line (it happens), right after SAM's ``SAM_CONTAINER_ID`` line.
    """
    lines = logs.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("START RequestId")), None)
    if start is None:
        start = next((i + 1 for i, line in enumerate(lines) if line.startswith("SAM_CONTAINER_ID")), 0)
    ends = [i for i, line in enumerate(lines) if line.startswith("REPORT RequestId")]
    return lines[start : ends[-1] + 1] if ends else lines[start:]


def is_error_payload(payload: Any) -> bool:
    """Whether an invoke's result is the error Lambda returns for an unhandled exception."""
    return isinstance(payload, dict) and "errorType" in payload and "errorMessage" in payload
