"""The vocabulary of a fault run: fault modes, call kinds, the recorded :class:`Call`, and the
:class:`InjectionPoint` list a recorded rotation gives.

What counts as a call with an effect (AWS writes, SQL other than reads, MySQL named locks) and the
password-free label a statement is recorded under are decided here too, so the recorder and the
enumeration of points agree on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FAIL = "fail"
LOST_REPLY = "lost-reply"
CRASH = "crash"
MODES = (FAIL, LOST_REPLY, CRASH)

AWS = "aws"
DB_CONNECT = "db-connect"
DB_SQL = "db-sql"

AWS_WRITES = {"PutSecretValue", "UpdateSecretVersionStage", "PutParameter"}
_SQL_READ = re.compile(r"^\s*(SELECT|SHOW)\b", re.IGNORECASE)
_SQL_LOCK = re.compile(r"\b(GET_LOCK|RELEASE_LOCK)\s*\(", re.IGNORECASE)


class SimulatedCrash(Exception):  # noqa: N818 - it is a crash, not an error the function handles
    """The execution environment died right after a call took effect."""


@dataclass(frozen=True)
class Call:
    index: int
    kind: str
    name: str
    step: str | None
    effect: bool
    detail: str = ""  # for PutParameter: the parameter, relative to the prefix (never a value)

    def __str__(self) -> str:
        detail = f" {self.detail}" if self.detail else ""
        return f"#{self.index} {self.step or '-'} {self.kind} {self.name}{detail}"


@dataclass(frozen=True)
class InjectionPoint:
    call: Call
    mode: str
    error_code: str = ""

    def __str__(self) -> str:
        code = f" {self.error_code}" if self.error_code else ""
        return f"{self.call} [{self.mode}{code}]"


def injection_points(calls: list[Call], modes: tuple[str, ...] = MODES) -> list[InjectionPoint]:
    """Every (call, mode) worth injecting: ``fail`` everywhere, the others where the call has effect.

    AWS ``fail`` faults alternate between throttling and a server error, so both are exercised.
    """
    points = []
    for call in calls:
        for mode in modes:
            if mode != FAIL and not call.effect:
                continue
            code = ""
            if call.kind == AWS:
                if mode == FAIL and call.index % 2:
                    code = "ThrottlingException"
                else:
                    code = "InternalServerError" if call.name.startswith("ssm.") else "InternalServiceError"
            points.append(InjectionPoint(call, mode, code))
    return points


def sql_label(query: str) -> str:
    """A short, password-free name for a statement: its first words (values are bound, not inlined)."""
    words = re.sub(r"\s+", " ", query.strip()).split(" ")
    label = " ".join(words[:3])
    lock = _SQL_LOCK.search(query)
    if lock:
        label = f"SELECT {lock.group(1).upper()}"
    return label
