"""docs/runbook.md's examples, run as written against the persistent local stack (`bluegreen local`).

Every line of every ```bash block runs, in document order, through the installed ``bluegreen``
console script and bash (one bash script per block, so a block's variables carry from line to line),
with the environment ``bluegreen local up`` prints. Each command must exit 0, or the code its
``# exit N`` comment names. Lines marked ``# real AWS only`` are skipped, and that list is checked to
stay small. Then ``local down`` must leave no mariadbd or moto process behind.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bluegreen_ops.devstack import persistent_stack as local_stack
from tests.availability import skip_unless_available

ROOT = Path(__file__).resolve().parents[3]
RUNBOOK = ROOT / "docs" / "runbook.md"
REAL_AWS_ONLY = "# real AWS only"
_EXIT = re.compile(r"#.*\bexit (\d)\b")


def bash_blocks(text: str) -> list[list[str]]:
    """The ```bash blocks, each as its logical lines (backslash continuations joined)."""
    blocks = re.findall(r"^\s*```bash\n(.*?)^\s*```", text, flags=re.S | re.M)
    result = []
    for block in blocks:
        lines: list[str] = []
        pending = ""
        for raw in block.splitlines():
            line = raw.strip()
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line = pending + line
            pending = ""
            if line and not line.startswith("#"):
                lines.append(line)
        result.append(lines)
    return result


def script_for(lines: list[str]) -> str:
    """One bash script; each command's exit status is checked against its ``# exit N`` (default 0)."""
    out = ["set -o pipefail"]
    for n, line in enumerate(lines):
        expected = int(m.group(1)) if (m := _EXIT.search(line)) else 0
        out.append(line)
        out.append(
            f'rc=$?; if [ "$rc" != {expected} ]; then '
            f'printf "RUNBOOK LINE %s: exit %s, expected %s: %s\\n" {n} "$rc" {expected} {shlex.quote(line)} >&2; '
            "exit 99; fi"
        )
    return "\n".join(out) + "\n"


def bluegreen_bin() -> Path:
    found = Path(sys.executable).parent / "bluegreen"
    if not found.exists():
        skip_unless_available("the bluegreen console script is not installed (make deps)")
    return found


def stack_processes(state_dir: Path) -> list[str]:
    """Processes whose command line names the state directory or moto's server (ours or not)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(state_dir) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_the_runbook_marks_few_lines_as_real_aws_only():
    lines = [line for block in bash_blocks(RUNBOOK.read_text()) for line in block]
    marked = [line for line in lines if REAL_AWS_ONLY in line]
    assert 1 <= len(marked) <= 3, marked
    assert len(lines) >= 20  # the runbook's examples are runnable, not the exception


@pytest.mark.slow
def test_every_runbook_example_runs_against_the_local_stack(tmp_path):
    bluegreen = bluegreen_bin()
    aws_venv = Path(__file__).resolve().parents[3] / ".venv-aws" / "bin"  # make deps installs it
    path = f"{aws_venv}{os.pathsep}{bluegreen.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    missing = [tool for tool in ("jq", "aws") if shutil.which(tool, path=path) is None]
    if missing:
        skip_unless_available(
            f"the runbook's examples use {', '.join(missing)}, not installed here (make deps)"
        )
    state_dir = tmp_path / "stack"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "DB_", "PARAMETER_", "ROTATION_", "ACTIVE_SESSION", "BLUEGREEN_"))
    }
    env["PATH"] = path
    env["BLUEGREEN_LOCAL_DIR"] = str(state_dir)
    up = subprocess.run([bluegreen, "local", "up"], env=env, capture_output=True, text=True, timeout=180)
    assert up.returncode == 0, up.stderr
    assert up.stdout.startswith("export ") and "AWS_ENDPOINT_URL=" in up.stdout
    state = local_stack.read_state(state_dir)
    assert state is not None and local_stack.running(state)
    try:
        blocks = bash_blocks(RUNBOOK.read_text())
        ran = 0
        for lines in blocks:
            runnable = [line for line in lines if REAL_AWS_ONLY not in line]
            if not runnable:
                continue
            # each block starts from the exported environment, as a fresh terminal after `eval`
            script = 'eval "$(bluegreen local env)"\n' + script_for(runnable)
            done = subprocess.run(
                ["bash", "-c", script],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, f"{done.stderr[-3000:]}\n--- stdout ---\n{done.stdout[-2000:]}"
            ran += len(runnable)
        assert ran >= 20
    finally:
        subprocess.run([bluegreen, "local", "down"], env=env, capture_output=True, timeout=120)
    assert not state_dir.exists()
    assert stack_processes(state_dir) == []  # no mariadbd left running
    for pid in (state.db_pid, state.moto_pid):
        assert not _runs(pid), f"process {pid} of the local stack is still running"


def _runs(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status  # a zombie has exited (it only waits for its parent to reap it)
