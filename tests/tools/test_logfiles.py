"""``make run``'s log files stay bounded: output is copied into size-rotated files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devtools.logfiles import LogPump, RotatingFile


def test_a_full_file_moves_to_dot_one_and_only_the_last_backups_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "svc.log"
    log = RotatingFile(path, max_bytes=100, backups=2)
    for n in range(12):
        log.write(f"line {n:02d} ".encode() + b"x" * 21 + b"\n")  # 30 bytes: three lines to a file
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["svc.log", "svc.log.1", "svc.log.2"]
    assert all(p.stat().st_size <= 100 for p in tmp_path.iterdir())
    kept = b"".join(p.read_bytes() for p in (tmp_path / "svc.log.2", tmp_path / "svc.log.1", path))
    assert [line[:7] for line in kept.splitlines()] == [f"line {n:02d}".encode() for n in range(3, 12)]


def test_a_childs_output_is_pumped_into_the_rotated_file_whole_lines_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "child.log"
    child = subprocess.Popen([sys.executable, "-c", "for n in range(2000): print(f'{n:05d}')"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert child.stdout is not None
    pump = LogPump(child.stdout, path, max_bytes=1000, backups=3).start()
    assert child.wait(timeout=30) == 0
    pump.join()
    files = [tmp_path / f"child.log.{n}" for n in (3, 2, 1)] + [path]
    assert all(f.stat().st_size <= 1000 for f in files)
    lines = b"".join(f.read_bytes() for f in files).decode().splitlines()
    assert lines == [f"{n:05d}" for n in range(2000 - len(lines), 2000)] and len(lines) > 500
