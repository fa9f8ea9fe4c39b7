"""What ships: the wheel and the container image carry the runtime packages and no developer tooling."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_PACKAGES = {"shared", "services", "qwcli"}
TOOLING_DIRS = {"devtools", "bench", "tests"}
TOOLING_NAMES = ("localinfra", "devrun", "demo", "webhook_receiver", "launcher", "conftest")
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", ".qw-data", "__pycache__", "*.egg-info", "build", "dist",
                                    ".pytest_cache", ".ruff_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """Build the wheel from a copy of the whole checkout (tooling included, so a wrong package list would
    pack it), without build isolation or an index: no network."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(work / "out")],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = (work / "out").glob("qualitywatch-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_holds_the_runtime_packages_and_the_qw_command(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert {name.split("/")[0] for name in names if ".dist-info/" not in name} == RUNTIME_PACKAGES
    assert {"shared/catalogue/jiangsu-2020.yaml", "shared/migrations/env.py", "qwcli/__main__.py"} <= set(names)
    (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    assert "qw = qwcli:main" in wheel.read(entry_points).decode()


def test_the_wheel_holds_no_tooling(wheel: zipfile.ZipFile) -> None:
    tooling = [name for name in wheel.namelist()
               if name.split("/")[0] in TOOLING_DIRS
               or any(Path(part).stem in TOOLING_NAMES for part in name.split("/"))]
    assert tooling == []


def test_the_package_list_names_only_the_runtime_packages() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert included == RUNTIME_PACKAGES


def test_the_image_copies_only_the_runtime_packages() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    copied = {Path(source).parts[0]
              for line in dockerfile.splitlines() if re.match(r"COPY\s", line) and "--from=" not in line
              for source in line.split()[1:-1]}
    assert copied == RUNTIME_PACKAGES | {"pyproject.toml"}


def test_the_build_context_lets_in_only_the_runtime_packages() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[0] == "*", "everything is left out unless let in"
    let_in = {line[1:].strip("/") for line in patterns if line.startswith("!")}
    assert let_in == RUNTIME_PACKAGES | {"pyproject.toml"}
