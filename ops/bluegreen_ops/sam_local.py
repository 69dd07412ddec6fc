"""``sam local invoke`` for real, on a machine with no container registry.

``make invoke`` (``python -m bluegreen_ops.sam_local``) runs the functions of ``template.yaml`` the way
SAM CLI users test them, ``sam local invoke <Function> -e <event> --env-vars <file>``, against the local
stack (MariaDB and moto) instead of an AWS account:

1. ``sam build`` into ``.aws-sam/build`` with SAM CLI from its own virtual environment ``.venv-sam``;
2. a private Docker engine: ``dockerd`` with its data, exec root, socket and pid file in a temp dir and
   its own bridge, which is Docker's default bridge for this engine. Containers reach the host only at
   that bridge's gateway address, so MariaDB and moto listen there;
3. the stand-in for the Lambda python3.12 image, built once from Debian packages and PyPI by
   ``container/build-image.sh`` and cached by a tag derived from the recipe's hash. SAM layers its
   runtime interface emulator on top (``--invoke-image <tag> --skip-pull-image``);
4. one rotation of the local secret as Secrets Manager runs it: RotateSecret's bookkeeping (the
   placeholder AWSPENDING version), four ``sam local invoke RotationFunction`` calls, one per step, with
   the events of ``events/`` filled in, then AWSPENDING removed; a second rotation flips the flag back;
5. ``sam local invoke ConsumerFunction``, the example consumer, which reads the live color through the
   ``bluegreen_db`` layer from ``/opt/python``.

Everything started here is stopped on the way out, failure or not: containers, dockerd and its
containerd (by PID), the bridge, mounts and temp dirs, MariaDB and moto.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import itertools
import json
import logging
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess  # nosec B404
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

    from bluegreen_ops.localstack import AppDatabase, MariaDB, MotoServer

REPO_ROOT = Path(__file__).resolve().parents[2]
SAM_CLI_VERSION = "1.170.0"
SAM_PYTHON_VERSION = "3.12.1"  # the interpreter `sam build` uses for python3.12 (pyenv)
REGION = "us-east-1"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
ROTATION_FUNCTION = "RotationFunction"
CONSUMER_FUNCTION = "ConsumerFunction"
# Debian packages the engine and the image recipe need: binary -> package.
HOST_PACKAGES = {
    "dockerd": "docker.io",
    "docker": "docker.io",
    "debootstrap": "debootstrap",
    "ip": "iproute2",
}

_TMP_PREFIX = "bluegreen-dockerd-"
_BRIDGE_PREFIX = "bgr"
_SUBNET_POOL = ipaddress.IPv4Network("172.28.0.0/16")
_engine_counter = itertools.count(1)
_SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Log = Callable[[str], None]


def _stderr_log(message: str) -> None:
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


class DockerUnavailableError(RuntimeError):
    """Docker's engine cannot run on this machine at all (not root, no cgroups, ...)."""


class SamLocalError(RuntimeError):
    """A step of the local flow failed; the message carries the tool's own output."""


class InvokeError(SamLocalError):
    """``sam local invoke`` failed, or the function returned an error payload."""

    def __init__(self, message: str, payload: Any, logs: str) -> None:
        super().__init__(f"{message}\n--- logs ---\n{logs[-6000:]}")
        self.payload = payload
        self.logs = logs


# ---- small process helpers ------------------------------------------------------------------------


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=_SBIN_PATH)


def _need(name: str) -> str:
    path = _which(name)
    if not path:
        raise SamLocalError(f"{name} not found on PATH or in the sbin directories")
    return path


def _run(
    args: Sequence[str | Path],
    *,
    check: bool = True,
    capture: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 600,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Runs a command given as an argument list (never through a shell)."""
    proc = subprocess.run(  # noqa: S603  # nosec B603
        [str(a) for a in args],
        check=False,
        capture_output=capture,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        cwd=cwd,
    )
    if check and proc.returncode != 0:
        output = ((proc.stdout or "") + (proc.stderr or ""))[-4000:]
        raise SamLocalError(f"{' '.join(str(a) for a in args)} exited {proc.returncode}:\n{output}")
    return proc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name: state, ppid, ..., start time at [19]."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _proc_start_time(pid: int) -> str | None:
    """Start time of a live (not zombie) process: tells it from a later one that reused its PID."""
    fields = _proc_stat(pid)
    return fields[19] if fields and fields[0] != "Z" else None


def _proc_parent(pid: int) -> int | None:
    fields = _proc_stat(pid)
    return int(fields[1]) if fields else None


def _proc_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        parent = _proc_parent(pid)
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


def _processes_mentioning(text: str) -> set[int]:
    return {pid for pid in _all_pids() if pid != os.getpid() and text in _proc_cmdline(pid)}


def _terminate(pids: Mapping[int, str | None], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; each PID only while its start time still matches."""

    def same(pid: int, started: str | None) -> bool:
        return started is not None and _proc_start_time(pid) == started

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


def _mounts_below(directory: Path) -> list[str]:
    prefix = str(directory).rstrip("/") + "/"
    found: list[str] = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            if target == str(directory) or target.startswith(prefix):
                found.append(target)
    return sorted(set(found), key=len, reverse=True)


def _unmount_below(directory: Path) -> None:
    umount = _which("umount")
    if not umount:
        return
    for target in _mounts_below(directory):
        _run([umount, "-l", target], check=False)


# ---- the host: packages and whether Docker can run at all ---------------------------------------------


def docker_unavailable_reason() -> str | None:
    """Why Docker's engine cannot run here at all, or None when it can be tried."""
    if sys.platform != "linux":
        return f"Docker's engine needs Linux, this is {sys.platform}"
    if os.geteuid() != 0:
        return "starting dockerd needs root"
    cgroup = Path("/sys/fs/cgroup")
    if not cgroup.is_dir() or not any(cgroup.iterdir()):
        return "no cgroup filesystem is mounted at /sys/fs/cgroup"
    if not Path("/proc/self/ns/net").exists():
        return "the kernel has no network namespaces"
    missing = sorted({pkg for binary, pkg in HOST_PACKAGES.items() if not _which(binary)})
    if missing and not _which("apt-get"):
        return f"{', '.join(missing)} missing and no apt-get to install them"
    return None


def ensure_host_packages(log: Log = _stderr_log) -> None:
    """Installs Debian's docker.io, debootstrap and iproute2 when missing (root, apt)."""
    missing = sorted({pkg for binary, pkg in HOST_PACKAGES.items() if not _which(binary)})
    if not missing:
        return
    started = time.monotonic()
    log(f"installing Debian packages: {' '.join(missing)}")
    apt = _need("apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run([apt, "update", "-qq"], env=env)
    _run([apt, "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
    log(f"  installed in {time.monotonic() - started:.1f} s")


# ---- the private Docker engine ------------------------------------------------------------------------


@dataclass
class DockerEngine:
    """A running dockerd of our own: its socket, its bridge and that bridge's gateway address."""

    workdir: Path
    socket: Path
    bridge: str
    subnet: str
    gateway: str
    pid: int

    @property
    def host(self) -> str:
        """The DOCKER_HOST value for this engine."""
        return f"unix://{self.socket}"

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**(os.environ if base is None else base), "DOCKER_HOST": self.host}

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        proc = _run([_need("docker"), *args], env=self.env(), check=check, timeout=timeout)
        return proc.stdout


def _used_networks() -> list[ipaddress.IPv4Network]:
    ip = _need("ip")
    used: list[ipaddress.IPv4Network] = []
    for args in (["-4", "-o", "addr", "show"], ["-4", "route", "show", "table", "all"]):
        out = _run([ip, *args], check=False).stdout
        for match in re.finditer(r"\b(\d+\.\d+\.\d+\.\d+(?:/\d+)?)\b", out):
            with contextlib.suppress(ValueError):
                used.append(ipaddress.IPv4Network(match.group(1), strict=False))
    return used


def _create_bridge() -> tuple[str, ipaddress.IPv4Network, str]:
    """A bridge named after this process, on a /24 no interface or route uses yet."""
    ip = _need("ip")
    name = f"{_BRIDGE_PREFIX}{os.getpid()}x{next(_engine_counter)}"
    used = _used_networks()
    candidates = list(_SUBNET_POOL.subnets(new_prefix=24))
    random.shuffle(candidates)
    subnet = next((c for c in candidates if not any(c.overlaps(u) for u in used)), None)
    if subnet is None:
        raise SamLocalError(f"no free /24 in {_SUBNET_POOL} for the engine's bridge")
    gateway = str(next(subnet.hosts()))
    _run([ip, "link", "add", "name", name, "type", "bridge"])
    try:
        _run([ip, "addr", "add", f"{gateway}/{subnet.prefixlen}", "dev", name])
        _run([ip, "link", "set", name, "up"])
    except BaseException:
        _run([ip, "link", "del", name], check=False)
        raise
    return name, subnet, gateway


def _delete_bridge(name: str) -> None:
    ip = _which("ip")
    if ip:
        _run([ip, "link", "del", name], check=False)


def _docker_ping(sock: Path) -> bool:
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
    docker = _which("docker")
    if dockerd_pid and docker and sock.exists() and _docker_ping(sock):
        env = {**os.environ, "DOCKER_HOST": f"unix://{sock}"}
        with contextlib.suppress(subprocess.TimeoutExpired):
            ids = _run([docker, "ps", "-aq"], env=env, check=False, timeout=30).stdout.split()
            if ids:
                _run([docker, "rm", "-f", "-v", *ids], env=env, check=False, timeout=60)
    # Everything of ours: dockerd's descendants (containerd, shims, docker-proxy) and any process whose
    # command line names our temp dir (a shim re-parented after its containerd died).
    ours: set[int] = _processes_mentioning(str(workdir))
    if dockerd_pid:
        ours |= _descendants(dockerd_pid)
    started = {pid: _proc_start_time(pid) for pid in ours}
    if dockerd_pid:
        _terminate({dockerd_pid: _proc_start_time(dockerd_pid)}, grace=30.0)
    _terminate(started, grace=10.0)
    leftovers = {pid: _proc_start_time(pid) for pid in _processes_mentioning(str(workdir))}
    if leftovers:
        _terminate(leftovers, grace=5.0)
    _unmount_below(workdir)
    if bridge:
        _delete_bridge(bridge)
    shutil.rmtree(workdir, ignore_errors=True)
    if workdir.exists():  # a mount that a lazy unmount had not released yet
        time.sleep(0.5)
        _unmount_below(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def reap_stale_engines() -> None:
    """Cleans up after an earlier run that was killed before it could: its dockerd, mounts, bridge, dir.

    Only things carrying this module's prefix and the PID of a process that no longer exists are touched.
    """
    for directory in Path(tempfile.gettempdir()).glob(f"{_TMP_PREFIX}*"):
        match = re.match(rf"{_TMP_PREFIX}(\d+)-", directory.name)
        if not match or _pid_alive(int(match.group(1))):
            continue
        dockerd_pid: int | None = None
        with contextlib.suppress(OSError, ValueError):
            candidate = int((directory / "dockerd.pid").read_text().strip())
            if str(directory) in _proc_cmdline(candidate):
                dockerd_pid = candidate
        bridge_file = directory / "bridge"
        bridge = bridge_file.read_text().strip() if bridge_file.exists() else None
        _stop_engine(directory, dockerd_pid, bridge)
    ip = _which("ip")
    if ip:
        links = _run([ip, "-o", "link", "show", "type", "bridge"], check=False).stdout
        for match in re.finditer(rf"^\d+: ({_BRIDGE_PREFIX}(\d+)x\d+)[:@]", links, re.MULTILINE):
            if not _pid_alive(int(match.group(2))):
                _delete_bridge(match.group(1))


@contextlib.contextmanager
def docker_engine(*, start_timeout: float = 60.0, log: Log = _stderr_log) -> Iterator[DockerEngine]:
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
        bridge, subnet, gateway = _create_bridge()
        (workdir / "bridge").write_text(bridge)
        config = workdir / "daemon.json"
        config.write_text("{}\n")  # never the machine's /etc/docker/daemon.json
        sock = workdir / "docker.sock"
        args = [
            _need("dockerd"),
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
            process = subprocess.Popen(  # noqa: S603  # nosec B603
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + start_timeout
        while not _docker_ping(sock):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (workdir / "dockerd.log").read_text(errors="replace")[-3000:]
                state = f"exited {process.returncode}" if process.poll() is not None else "timed out"
                raise SamLocalError(f"dockerd {state} before answering on {sock}:\n{tail}")
            time.sleep(0.1)
        engine = DockerEngine(workdir, sock, bridge, str(subnet), gateway, process.pid)
        took = time.monotonic() - started
        log(f"dockerd {process.pid} ready in {took:.1f} s (bridge {bridge}, gateway {gateway})")
        yield engine
    finally:
        _stop_engine(workdir, process.pid if process else None, bridge)
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)


# ---- the stand-in image ---------------------------------------------------------------------------------


def image_tag() -> str:
    """The tag ``container/build-image.sh`` builds: derived from the hash of the recipe."""
    return _run([_need("bash"), REPO_ROOT / "container" / "build-image.sh", "--print-tag"]).stdout.strip()


def ensure_image(engine: DockerEngine, log: Log = _stderr_log) -> str:
    """Builds the stand-in Lambda python3.12 image in ``engine`` unless present; returns its tag.

    The first build (debootstrap, CPython, awslambdaric) takes about a minute and leaves the root
    filesystem in the cache (``~/.cache/bluegreen-rotation``); a new engine imports it in seconds.
    """
    started = time.monotonic()
    log("ensuring the stand-in Lambda image (container/build-image.sh)")
    proc = subprocess.run(  # noqa: S603  # nosec B603
        [_need("bash"), str(REPO_ROOT / "container" / "build-image.sh")],
        env=engine.env(),
        stdout=subprocess.PIPE,
        stderr=None,  # the script's progress lines go straight to our stderr
        text=True,
        check=False,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SamLocalError(f"container/build-image.sh exited {proc.returncode}")
    tag = proc.stdout.strip().splitlines()[-1]
    log(f"image {tag} ready in {time.monotonic() - started:.1f} s")
    return tag


# ---- SAM CLI ---------------------------------------------------------------------------------------------


def sam_executable(log: Log = _stderr_log) -> Path:
    """``.venv-sam/bin/sam``, installing aws-sam-cli into ``.venv-sam`` first when it is missing."""
    venv = REPO_ROOT / ".venv-sam"
    sam = venv / "bin" / "sam"
    if sam.exists():
        return sam
    started = time.monotonic()
    log(f"installing aws-sam-cli=={SAM_CLI_VERSION} into {venv} (it pins its own boto3)")
    python = _which("python3") or sys.executable
    _run([python, "-m", "venv", venv])
    _run(
        [
            venv / "bin" / "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"aws-sam-cli=={SAM_CLI_VERSION}",
        ]
    )
    log(f"  installed in {time.monotonic() - started:.1f} s")
    return sam


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


def _sam_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
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


def build_parameter_overrides(template: Path, values: Mapping[str, str] | None = None) -> dict[str, str]:
    """Overrides for the parameters the template declares: the architecture, plus ``values``."""
    declared = template_parameters(template)
    overrides = {k: v for k, v in (values or {}).items() if k in declared}
    if "Architecture" in declared:
        overrides["Architecture"] = host_architecture()
    return overrides


def _overrides_args(overrides: Mapping[str, str]) -> list[str]:
    return ["--parameter-overrides", " ".join(f"{k}={v}" for k, v in overrides.items())] if overrides else []


def sam_build(
    template: Path | None = None,
    *,
    parameter_overrides: Mapping[str, str] | None = None,
    log: Log = _stderr_log,
) -> Path:
    """``sam build`` (cached) into ``.aws-sam/build``; returns the built template.

    Lambda containers run natively only on this machine's architecture: the template's
    ``Architecture`` parameter gets it as an override.
    """
    sam = sam_executable(log)
    template = template or REPO_ROOT / "template.yaml"
    arch = host_architecture()
    overrides = dict(parameter_overrides or build_parameter_overrides(template))
    build_dir = REPO_ROOT / ".aws-sam" / "build"
    started = time.monotonic()
    log(f"sam build ({arch}) -> {build_dir.relative_to(REPO_ROOT)}")
    if "Architecture" not in overrides:
        raise SamLocalError(f"{template} declares no Architecture parameter to build for {arch}")
    proc = _run(
        [
            sam,
            "build",
            "--template-file",
            template,
            "--build-dir",
            build_dir,
            "--cached",
            "--cache-dir",
            REPO_ROOT / ".aws-sam" / "cache",
            *_overrides_args(overrides),
        ],
        env=_sam_env(_python312_env()),
        cwd=template.parent,
        check=False,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SamLocalError(f"sam build exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-4000:]}")
    log(f"  built in {time.monotonic() - started:.1f} s")
    return build_dir / "template.yaml"


def invoke(
    function_logical_id: str,
    event_path: Path,
    env_vars_path: Path,
    *,
    image: str | None = None,
    docker_host: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    parameter_overrides: Mapping[str, str] | None = None,
    template: Path | None = None,
    timeout: float = 300,
) -> tuple[Any, str]:
    """``sam local invoke <id> -e <event> --env-vars <file> --invoke-image <tag> --skip-pull-image``.

    Returns the function's result (parsed JSON) and the log text (SAM's and the function's lines,
    ending with the ``REPORT RequestId`` line). ``docker_host`` defaults to ``DOCKER_HOST``; ``image`` to
    the stand-in's tag; ``extra_env`` is added to SAM's environment (AWS credentials and region, which
    SAM passes to the container). Raises :class:`InvokeError` when SAM fails; a function error comes
    back as the payload Lambda returns (``errorType``, ``errorMessage``).
    """
    sam = REPO_ROOT / ".venv-sam" / "bin" / "sam"
    built = template or REPO_ROOT / ".aws-sam" / "build" / "template.yaml"
    env = _sam_env(extra_env)
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    args: list[str | Path] = [
        sam,
        "local",
        "invoke",
        function_logical_id,
        "--template",
        built,
        "--event",
        event_path,
        "--env-vars",
        env_vars_path,
        "--invoke-image",
        image or image_tag(),
        "--skip-pull-image",
        "--region",
        env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or REGION,
        *_overrides_args(parameter_overrides or {}),
    ]
    try:
        proc = _run(args, env=env, check=False, timeout=timeout, cwd=REPO_ROOT)
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
    return isinstance(payload, dict) and "errorType" in payload and "errorMessage" in payload


# ---- the local rotation -----------------------------------------------------------------------------


@dataclass
class MirrorState:
    """What Parameter Store and the secret say, with every password masked."""

    flag: str | None
    current_username: str
    urls: dict[str, str]

    def lines(self) -> list[str]:
        out = [f"flag {self.flag or '(absent)'}; AWSCURRENT user {self.current_username}"]
        out += [f"  {name:<13} {url}" for name, url in self.urls.items()]
        return out


@dataclass
class StepOutcome:
    function: str
    step: str
    payload: Any
    logs: str
    seconds: float


@dataclass
class RotationOutcome:
    token: str
    before: MirrorState
    after: MirrorState
    steps: list[StepOutcome]
    seconds: float


@dataclass
class LocalRotation:
    """Runs rotations of the local stack's secret through ``sam local invoke`` containers."""

    engine: DockerEngine
    image: str
    moto: MotoServer
    db: MariaDB
    app: AppDatabase
    secretsmanager: SecretsManagerClient
    ssm: SSMClient
    workdir: Path
    events_dir: Path = REPO_ROOT / "events"
    template: Path = REPO_ROOT / "template.yaml"
    function_env: dict[str, dict[str, str]] = field(default_factory=dict)
    log: Log = _stderr_log

    @property
    def aws_env(self) -> dict[str, str]:
        """SAM's own environment: moto for its STS look-up, and the credentials it hands the container."""
        from bluegreen_ops.localstack import aws_environment

        return aws_environment(self.moto.endpoint)

    @property
    def prefix(self) -> str:
        return self.function_env.get(ROTATION_FUNCTION, {}).get("PARAMETER_PREFIX") or "/db/dev"

    @property
    def parameter_overrides(self) -> dict[str, str]:
        return build_parameter_overrides(
            self.template,
            {
                "SecretArn": self.app.secret_arn,
                "MasterSecretArn": self.app.master_arn,
                "AwsEndpointUrl": self.moto.endpoint,
            },
        )

    def write_env_file(self) -> Path:
        """``events/env.json`` with the local endpoints filled in (and the demo's safety settings)."""
        source = self.events_dir / "env.json"
        env: dict[str, dict[str, str]] = json.loads(source.read_text()) if source.exists() else {}
        env.setdefault(ROTATION_FUNCTION, {})
        env.setdefault(CONSUMER_FUNCTION, {})
        for function, variables in env.items():
            variables["AWS_ENDPOINT_URL"] = self.moto.endpoint
            variables.update(self.function_env.get(function, {}))
        self.function_env = env
        path = self.workdir / "env.json"
        path.write_text(json.dumps(env, indent=2) + "\n")
        return path

    def write_event(self, step: str, token: str) -> Path:
        """``events/<step>.json`` with the live secret ARN and this rotation's token."""
        source = self.events_dir / f"{step}.json"
        event: dict[str, Any] = json.loads(source.read_text()) if source.exists() else {"Step": step}
        event.update({"Step": step, "SecretId": self.app.secret_arn, "ClientRequestToken": token})
        event.pop("RotationToken", None)
        path = self.workdir / f"{step}-{token[:8]}.json"
        path.write_text(json.dumps(event) + "\n")
        return path

    def invoke(self, function: str, event_path: Path, env_path: Path) -> tuple[Any, str, float]:
        started = time.monotonic()
        payload, logs = invoke(
            function,
            event_path,
            env_path,
            image=self.image,
            docker_host=self.engine.host,
            extra_env=self.aws_env,
            parameter_overrides=self.parameter_overrides,
        )
        return payload, logs, time.monotonic() - started

    def state(self) -> MirrorState:
        from bluegreen_db.dburl import redact
        from bluegreen_db.naming import COLORS, ROLES, ParameterNames

        names = ParameterNames(self.prefix)
        wanted = names.all()
        got = self.ssm.get_parameters(Names=wanted, WithDecryption=True)
        values = {p["Name"]: p.get("Value", "") for p in got.get("Parameters", [])}
        # VersionStage explicitly: moto's default version lags behind UpdateSecretVersionStage.
        latest = self.secretsmanager.get_secret_value(SecretId=self.app.secret_arn, VersionStage="AWSCURRENT")
        current = json.loads(latest["SecretString"])
        urls: dict[str, str] = {}
        for color in COLORS:
            for role in ROLES:
                value = values.get(names.url(color, role))
                urls[f"{color} {role}"] = redact(value) if value else "(absent)"
        return MirrorState(values.get(names.flag), str(current.get("username")), urls)

    def rotate(self, on_step: Callable[[StepOutcome], None] | None = None) -> RotationOutcome:
        """One rotation as Secrets Manager runs it, each step in its own ``sam local invoke``."""
        from bluegreen_ops.driver import RotationDriver

        started = time.monotonic()
        before = self.state()
        env_path = self.write_env_file()
        driver = RotationDriver(client=self.secretsmanager, handler=lambda event, context: None)
        token = driver.start(self.app.secret_arn, str(uuid.uuid4()))
        steps: list[StepOutcome] = []
        for step in STEPS:
            payload, logs, seconds = self.invoke(ROTATION_FUNCTION, self.write_event(step, token), env_path)
            outcome = StepOutcome(ROTATION_FUNCTION, step, payload, logs, seconds)
            steps.append(outcome)
            if on_step:
                on_step(outcome)
            if is_error_payload(payload):
                raise InvokeError(
                    f"{step} failed: {payload.get('errorType')}: {payload.get('errorMessage')}", payload, logs
                )
        driver.finish(self.app.secret_arn, token)
        return RotationOutcome(token, before, self.state(), steps, time.monotonic() - started)

    def consumer(self, event: Mapping[str, Any] | None = None) -> StepOutcome:
        """The example consumer through the layer: returns the live color it read."""
        env_path = self.write_env_file()
        event_path = self.workdir / "consumer-event.json"
        event_path.write_text(json.dumps(dict(event or {})) + "\n")
        payload, logs, seconds = self.invoke(CONSUMER_FUNCTION, event_path, env_path)
        if is_error_payload(payload):
            raise InvokeError(f"{CONSUMER_FUNCTION} failed: {payload.get('errorMessage')}", payload, logs)
        return StepOutcome(CONSUMER_FUNCTION, "invoke", payload, logs, seconds)


# Settings the container flow needs on top of events/env.json. The local MariaDB serves TLS with a
# throwaway CA that is not inside the container, so the function encrypts without verifying
# (`require`); grace 0 lets the second rotation flip straight back, which a demo needs.
LOCAL_ROTATION_ENV = {"DB_TLS_MODE": "require", "DB_TLS_CA_FILE": "", "ROTATION_GRACE_SECONDS": "0"}


@contextlib.contextmanager
def local_rotation(
    *,
    log: Log = _stderr_log,
    rotation_env: Mapping[str, str] | None = None,
    build: bool = True,
) -> Iterator[LocalRotation]:
    """Everything ``make invoke`` needs, torn down on exit: build, engine, image, stack, seeded secret."""
    import boto3

    from bluegreen_ops.localstack import (
        MariaDB,
        MotoServer,
        aws_environment,
        make_tls_files,
        seed_application,
    )

    if build:
        sam_build(log=log)
    # moto's HTTP server logs every request through werkzeug; the demo's output is the invokes'.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with contextlib.ExitStack() as stack:
        engine = stack.enter_context(docker_engine(log=log))
        image = ensure_image(engine, log)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bluegreen-sam-local-")))
        started = time.monotonic()
        tls = make_tls_files(workdir / "tls", (engine.gateway,))
        db = MariaDB(host=engine.gateway, tls=tls)
        stack.callback(db.stop)
        db.start()
        moto = MotoServer(host=engine.gateway).start()
        stack.callback(moto.stop)
        aws = aws_environment(moto.endpoint)
        client_args: dict[str, Any] = {
            "endpoint_url": moto.endpoint,
            "region_name": REGION,
            "aws_access_key_id": aws["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": aws["AWS_SECRET_ACCESS_KEY"],
        }
        secretsmanager = boto3.client("secretsmanager", **client_args)
        ssm = boto3.client("ssm", **client_args)
        app = seed_application(db, secretsmanager)
        log(
            f"local stack on {engine.gateway}: MariaDB :{db.port}, moto :{moto.port} "
            f"({time.monotonic() - started:.1f} s)"
        )
        rotation = LocalRotation(
            engine=engine,
            image=image,
            moto=moto,
            db=db,
            app=app,
            secretsmanager=secretsmanager,
            ssm=ssm,
            workdir=workdir,
            log=log,
            function_env={ROTATION_FUNCTION: {**LOCAL_ROTATION_ENV, **(rotation_env or {})}},
        )
        rotation.write_env_file()
        yield rotation


# ---- make invoke ----------------------------------------------------------------------------------------


def _say(message: str = "") -> None:
    print(message, flush=True)  # noqa: T201 - main's progress output


def _print_step(outcome: StepOutcome) -> None:
    result = json.dumps(outcome.payload) if outcome.payload is not None else "null"
    _say(f"--- {outcome.function} {outcome.step}: {result} ({outcome.seconds:.1f} s)")
    for line in function_log_lines(outcome.logs):
        _say(f"    {line.rstrip()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bluegreen_ops.sam_local",
        description="Rotate the local stack's secret through `sam local invoke` containers (make invoke).",
    )
    parser.add_argument(
        "--rotations",
        type=int,
        default=2,
        help="rotations to run; the second flips the flag back (default 2)",
    )
    parser.add_argument("--no-consumer", action="store_true", help="skip invoking ConsumerFunction")
    args = parser.parse_args(argv)

    # SIGTERM (CI's stop, `kill`) unwinds like Ctrl-C, so every cleanup runs.
    def _interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        with local_rotation(log=_say) as rotation:
            _say(f"secret {rotation.app.secret_arn}")
            for n in range(1, args.rotations + 1):
                _say(f"\n=== rotation {n} of {args.rotations} ===")
                outcome = rotation.rotate(on_step=_print_step)
                _say("before:")
                for line in outcome.before.lines():
                    _say(f"  {line}")
                _say("after:")
                for line in outcome.after.lines():
                    _say(f"  {line}")
                _say(
                    f"rotation {outcome.token} done in {outcome.seconds:.1f} s "
                    f"({outcome.before.flag or 'no flag'} -> {outcome.after.flag})"
                )
                if not args.no_consumer:
                    _print_step(rotation.consumer())
    except DockerUnavailableError as exc:
        _say(f"cannot run Docker's engine here: {exc}")
        return 2
    except SamLocalError as exc:
        _say(f"FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("interrupted; the engine, the stack and the temp dirs were removed")
        return 130
    _say(f"\nall done in {time.monotonic() - started:.1f} s; engine, stack and temp dirs removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
