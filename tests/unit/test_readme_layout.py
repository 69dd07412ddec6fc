"""README's "How the code is laid out" tree names every folder of the repository, and only real ones.

A newcomer finds their room from that tree, so a folder added or moved without its line fails here.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tree_entries() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### How the code is laid out", 1)[1]
    block = section.split("```", 2)[1]
    return [m.group(1).rstrip("/") for m in re.finditer(r"^(\S+/)\s", block, re.M)]


def _tracked_folders() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    return {str(Path(f).parent) for f in files} - {"."}


def test_every_folder_holding_files_has_a_line() -> None:
    missing = sorted(_tracked_folders() - set(_tree_entries()))
    assert not missing, f"README's layout tree lacks: {missing}"


def test_every_line_names_a_folder_that_exists() -> None:
    gone = [entry for entry in _tree_entries() if not (ROOT / entry).is_dir()]
    assert not gone, f"README's layout tree names folders that do not exist: {gone}"
