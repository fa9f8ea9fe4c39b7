"""Where the repository checkout is: devtools only runs from one, never from an installed wheel."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def repo_path(*parts: str) -> Path:
    """A path inside the checkout (e.g. ``repo_path("deploy", "local", "kafka")``); fails outside one."""
    if not (REPO_ROOT / "pyproject.toml").is_file() or not (REPO_ROOT / "deploy").is_dir():
        raise RuntimeError(f"devtools runs from a QualityWatch checkout; {REPO_ROOT} is not one")
    return REPO_ROOT.joinpath(*parts)
