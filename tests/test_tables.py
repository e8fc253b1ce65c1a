"""README's tables are generated from benchmarks/results (``make tables``): the README in the
repository matches its results files, and a changed figure makes ``--check`` fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "tables.py"


def _tables(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_readme_tables_match_the_results() -> None:
    run = _tables("--check")
    assert run.returncode == 0, run.stdout + run.stderr


def test_check_fails_when_a_result_changes_and_make_tables_fixes_it(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(ROOT / "benchmarks" / "results", results)
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    path = results / "runtime.json"
    runtime = json.loads(path.read_text())
    runtime["int8_long"]["real_time_factor"] += 1000.0
    path.write_text(json.dumps(runtime))
    args = ("--readme", readme, "--results", results)
    assert _tables("--check", *args).returncode == 1
    assert _tables(*args).returncode == 0
    assert _tables("--check", *args).returncode == 0
    assert f"{runtime['int8_long']['real_time_factor']:.0f}x" in readme.read_text()


def test_a_missing_block_is_an_error(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text().replace("<!-- /table:bench -->", ""))
    run = _tables("--check", "--readme", readme)
    assert run.returncode != 0 and "table:bench" in run.stderr
