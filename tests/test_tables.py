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


def test_quantization_table_reads_the_chosen_scheme_and_its_ratio(tmp_path: Path) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    from tables import quantization_table

    from edgesdk.bench.quant import add_speed_ratios, table

    def fig(kb: float, p50: float, delta: float | None = None) -> dict[str, object]:
        lat = {"1": {"p50_ms": p50, "p99_ms": 2 * p50}}
        f: dict[str, object] = {"bytes": kb * 1024, "latency_ms": lat}
        return f if delta is None else {**f, "accuracy": {"mpjpe_delta_mm": delta}}

    dyn = {**fig(300, 0.09, 0.4), "scheme": "dynamic", "claims_speed": True}
    qdq = {**fig(310, 0.2, 0.1), "scheme": "qdq", "claims_speed": True}
    entry = {
        "kind": "student",
        "fp32": {"onnx": {"cpu": fig(1000, 0.1)}},
        "int8": {"onnx": {"cpu": dyn}},
        "schemes": {"onnx": {"dynamic": {"cpu": dyn}, "qdq": {"cpu": qdq}}},
    }
    add_speed_ratios(entry)
    entry["quantization"] = table(entry, "cpu")
    bench = {"settings": {"threads": [1]}, "models": {"s-student": entry}}
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    rows = [r for r in quantization_table(tmp_path).splitlines() if r.startswith("| s-student")]
    assert rows == ["| s-student | onnx | dynamic | 1000 | 300 | 0.90 | +0.40 | dynamic | yes |"]
    assert "No per-scheme" in quantization_table(tmp_path / "nowhere")
