"""Where the project's files are: the repository this package runs from, and what SAM writes there."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = REPO_ROOT / "template.yaml"
EVENTS_DIR = REPO_ROOT / "events"
SAM_VENV = REPO_ROOT / ".venv-sam"
SAM = SAM_VENV / "bin" / "sam"
BUILD_DIR = REPO_ROOT / ".aws-sam" / "build"
BUILT_TEMPLATE = BUILD_DIR / "template.yaml"
BUILD_CACHE_DIR = REPO_ROOT / ".aws-sam" / "cache"
