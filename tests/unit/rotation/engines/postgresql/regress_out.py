"""Reads recorded psql sessions in the format of postgres/postgres ``src/test/regress/expected/*.out``:
each statement (possibly several lines, ending in ``;``), then its aligned result table or its
``ERROR:`` line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[5] / "tests" / "fixtures" / "postgresql16"
_RULE_RE = re.compile(r"^-+(\+-+)*$")
_COUNT_RE = re.compile(r"^\(\d+ rows?\)$")


@dataclass
class Step:
    statement: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    error: str | None = None

    def dicts(self) -> list[dict[str, str]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def read(name: str) -> list[Step]:
    lines = (FIXTURES / name).read_text().splitlines()
    steps: list[Step] = []
    pending: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not pending and (line.startswith("--") or not line.strip()):
            continue
        if line.startswith(("ERROR:", "DETAIL:", "NOTICE:", "HINT:")):
            if line.startswith("ERROR:") and steps:
                steps[-1].error = line.removeprefix("ERROR:").strip()
            continue
        if not pending and i < len(lines) and _RULE_RE.match(lines[i].strip()) and steps:
            # a result table's header, then its rule line, rows and "(N rows)"
            steps[-1].columns = [c.strip() for c in line.split("|")]
            i += 1
            while i < len(lines) and not _COUNT_RE.match(lines[i].strip()):
                steps[-1].rows.append([c.strip() for c in lines[i].split("|")])
                i += 1
            i += 1
            continue
        pending.append(line)
        if line.rstrip().endswith(";"):
            steps.append(Step(" ".join(p.strip() for p in pending)))
            pending = []
    return steps


def flag(value: str) -> bool:
    return {"t": True, "f": False}[value]
