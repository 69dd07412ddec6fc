"""Host processes: commands run as argument lists, and process trees found and stopped by PID.

Everything is read from ``/proc`` so that cleanup stops exactly what this run started: a PID is only
signalled while its start time still matches, never a later process that reused the number.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal

# Commands run as argument lists of resolved tool paths, never through a shell.
import subprocess  # nosec B404
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .errors import SamLocalError

SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    """The default progress output: one line on stderr, flushed at once."""
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


def which(name: str) -> str | None:
    """``name`` on PATH, or in the sbin directories a non-login root shell may lack."""
    return shutil.which(name) or shutil.which(name, path=SBIN_PATH)


def need(name: str) -> str:
    path = which(name)
    if not path:
        raise SamLocalError(f"{name} not found on PATH or in the sbin directories")
    return path


def run(
    args: Sequence[str | Path],
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 600,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Runs a command given as an argument list (never through a shell), capturing its output."""
    # No shell: args is a list whose first element is a path found by which()/need().
    proc = subprocess.run(  # noqa: S603  # nosec B603
        [str(a) for a in args],
        check=False,
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        cwd=cwd,
    )
    if check and proc.returncode != 0:
        output = (proc.stdout + proc.stderr)[-4000:]
        raise SamLocalError(f"{' '.join(str(a) for a in args)} exited {proc.returncode}:\n{output}")
    return proc


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name: state, ppid, ..., start time at [19]."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def start_time(pid: int) -> str | None:
    """Start time of a live (not zombie) process: tells it from a later one that reused its PID."""
    fields = _stat(pid)
    return fields[19] if fields and fields[0] != "Z" else None


def _parent(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        parent = _parent(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def processes_mentioning(text: str) -> set[int]:
    return {pid for pid in _all_pids() if pid != os.getpid() and text in cmdline(pid)}


def terminate(pids: Mapping[int, str | None], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; each PID only while its start time still matches."""

    def same(pid: int, started: str | None) -> bool:
        return started is not None and start_time(pid) == started

    live = {pid: started for pid, started in pids.items() if same(pid, started)}
    for pid in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(same(p, s) for p, s in live.items()):
        time.sleep(0.1)
    for pid, started in live.items():
        if same(pid, started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def mounts_below(directory: Path) -> list[str]:
    """Mount points at or under ``directory``, deepest first (the order to unmount them in)."""
    prefix = str(directory).rstrip("/") + "/"
    found: list[str] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            if target == str(directory) or target.startswith(prefix):
                found.append(target)
    return sorted(set(found), key=len, reverse=True)


def unmount_below(directory: Path) -> None:
    umount = which("umount")
    if not umount:
        return
    for target in mounts_below(directory):
        run([umount, "-l", target], check=False)
