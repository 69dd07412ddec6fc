"""A private Docker engine: ``dockerd`` with its data, exec root, socket and pid file in a temp dir.

It runs on its own bridge (:mod:`.bridge`) and changes nothing else on the host: the machine's
``/etc/docker/daemon.json`` is never read, and no firewall or forwarding rule is added. Everything it
started is stopped on the way out, failure or not: containers, dockerd and its containerd (by PID),
mounts, the bridge and the temp dir. A run killed before it could clean up is cleaned up by the next.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket

# dockerd is started from an argument list of its resolved path, never through a shell.
import subprocess  # nosec B404
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .bridge import create_bridge, delete_bridge, reap_stale_bridges
from .errors import DockerUnavailableError, SamLocalError
from .host import docker_unavailable_reason, ensure_host_packages
from .procs import (
    Log,
    cmdline,
    descendants,
    need,
    pid_alive,
    processes_mentioning,
    run,
    start_time,
    stderr_log,
    terminate,
    unmount_below,
    which,
)

_TMP_PREFIX = "bluegreen-dockerd-"


def _docker_env(sock: Path) -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": f"unix://{sock}"}


@dataclass
class DockerEngine:
    """A running dockerd of our own: its socket, its bridge and that bridge's gateway address."""

    workdir: Path
    socket: Path
    bridge: str
    gateway: str
    pid: int

    @property
    def host(self) -> str:
        """The DOCKER_HOST value for this engine."""
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        """This process's environment with DOCKER_HOST pointing at this engine."""
        return _docker_env(self.socket)

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        return run([need("docker"), *args], env=self.env(), check=check, timeout=timeout).stdout


def docker_ping(sock: Path) -> bool:
    """Whether the engine on ``sock`` answers its API (no docker CLI needed)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            head = s.recv(256)
    except OSError:
        return False
    return head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n", 1)[0]


def _stop_engine(workdir: Path, dockerd_pid: int | None, bridge: str | None) -> None:
    """Removes containers, stops dockerd and whatever it started, unmounts, deletes bridge and dir."""
    sock = workdir / "docker.sock"
    docker = which("docker")
    if dockerd_pid and docker and sock.exists() and docker_ping(sock):
        env = _docker_env(sock)
        with contextlib.suppress(subprocess.TimeoutExpired):
            ids = run([docker, "ps", "-aq"], env=env, check=False, timeout=30).stdout.split()
            if ids:
                run([docker, "rm", "-f", "-v", *ids], env=env, check=False, timeout=60)
    # Everything of ours: dockerd's descendants (containerd, shims, docker-proxy) and any process whose
    # command line names our temp dir (a shim re-parented after its containerd died).
    ours: set[int] = processes_mentioning(str(workdir))
    if dockerd_pid:
        ours |= descendants(dockerd_pid)
    started = {pid: start_time(pid) for pid in ours}
    if dockerd_pid:
        terminate({dockerd_pid: start_time(dockerd_pid)}, grace=30.0)
    terminate(started, grace=10.0)
    leftovers = {pid: start_time(pid) for pid in processes_mentioning(str(workdir))}
    if leftovers:
        terminate(leftovers, grace=5.0)
    unmount_below(workdir)
    if bridge:
        delete_bridge(bridge)
    shutil.rmtree(workdir, ignore_errors=True)
    if workdir.exists():  # a mount that a lazy unmount had not released yet
        time.sleep(0.5)
        unmount_below(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def reap_stale_engines() -> None:
    """Cleans up after an earlier run that was killed before it could: its dockerd, mounts, bridge, dir.

    Only things carrying this module's prefix and the PID of a process that no longer exists are touched.
    """
    for directory in Path(tempfile.gettempdir()).glob(f"{_TMP_PREFIX}*"):
        match = re.match(rf"{_TMP_PREFIX}(\d+)-", directory.name)
        if not match or pid_alive(int(match.group(1))):
            continue
        dockerd_pid: int | None = None
        with contextlib.suppress(OSError, ValueError):
            candidate = int((directory / "dockerd.pid").read_text().strip())
            if str(directory) in cmdline(candidate):
                dockerd_pid = candidate
        bridge_file = directory / "bridge"
        bridge = bridge_file.read_text().strip() if bridge_file.exists() else None
        _stop_engine(directory, dockerd_pid, bridge)
    reap_stale_bridges()


@contextlib.contextmanager
def docker_engine(*, start_timeout: float = 60.0, log: Log = stderr_log) -> Iterator[DockerEngine]:
    """Starts a private dockerd in a temp dir; on exit stops it and removes every trace of it.

    Raises :class:`DockerUnavailableError` where Docker cannot run at all (see
    :func:`docker_unavailable_reason`), :class:`SamLocalError` when it should but does not start.
    """
    reason = docker_unavailable_reason()
    if reason:
        raise DockerUnavailableError(reason)
    ensure_host_packages(log)
    reap_stale_engines()
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-"))
    bridge: str | None = None
    process: subprocess.Popen[bytes] | None = None
    try:
        bridge, gateway = create_bridge()
        (workdir / "bridge").write_text(bridge)
        config = workdir / "daemon.json"
        config.write_text("{}\n")  # never the machine's /etc/docker/daemon.json
        sock = workdir / "docker.sock"
        args = [
            need("dockerd"),
            f"--config-file={config}",
            f"--data-root={workdir / 'data'}",
            f"--exec-root={workdir / 'exec'}",
            f"--pidfile={workdir / 'dockerd.pid'}",
            f"--host=unix://{sock}",
            f"--bridge={bridge}",
            # No firewall or forwarding changes on the host: containers talk to the host on the
            # bridge (local delivery) and SAM reaches them through docker-proxy on loopback.
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--log-level=warn",
        ]
        with (workdir / "dockerd.log").open("wb") as out:
            # No shell: dockerd's resolved path and flags built above from our own temp dir.
            process = subprocess.Popen(  # noqa: S603  # nosec B603
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + start_timeout
        while not docker_ping(sock):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / "dockerd.log").read_text(errors="replace")[-3000:]
                state = f"exited {process.returncode}" if process.poll() is not None else "timed out"
                raise SamLocalError(f"dockerd {state} before answering on {sock}:\n{tail}")
            time.sleep(0.1)
        engine = DockerEngine(workdir, sock, bridge, gateway, process.pid)
        took = time.monotonic() - started
        log(f"dockerd {process.pid} ready in {took:.1f} s (bridge {bridge}, gateway {gateway})")
        yield engine
    finally:
        _stop_engine(workdir, process.pid if process else None, bridge)
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
