"""Property-based robustness of the command line (hypothesis): real files, mutated, through
``data info``, ``data synth``, ``run``, ``bench`` and ``validate``; whatever the mutation, the
command exits 0 or 2 (1 for a failed gate), prints no traceback and at most one error line,
ends within its time bound and leaves no partial output (``tests/fuzz_cli.py``). The larger
run is ``benchmarks/robustness.py``."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_cli import TARGETS, Inputs, Worker, check, make_case
from tests.small_models import TinyExports

# Examples per target: about 30 s in all on one core, after the shared fixtures (the
# export of the small student is shared with tests/export/test_integrity.py).
EXAMPLES = {
    "bvh-info": 40,
    "bvh-synth": 15,
    "take-run": 40,
    "manifest-run": 30,
    "manifest-bench": 15,
    "manifest-validate": 3,
    "artifact-run": 30,
    "artifact-bench": 15,
}


@pytest.fixture(scope="module")
def fuzz_inputs(
    tiny_exports: TinyExports, cmu_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Inputs:
    from edgesdk.data.synth import parse_devices, synthesize_dir

    root = tmp_path_factory.mktemp("fuzz-inputs")
    bvh = cmu_dir / "002_03.bvh"  # the shortest bundled clip (86 frames)
    devices = parse_devices("glasses:head,watch:left_wrist,phone:right_pocket")
    (take,) = synthesize_dir(bvh, root / "takes", devices, seed=0, progress=False)
    artifacts = {b: tiny_exports[b] for b in ("onnx", "tflite")}
    return Inputs(bvh=bvh, take=take, artifacts=artifacts, data=cmu_dir)


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory, fuzz_inputs: Inputs) -> Iterator[Worker]:
    # the worker inherits the environment: a clip cache of its own, warm for `validate`
    cache = tmp_path_factory.mktemp("fuzz-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGESDK_CACHE", str(cache))
        w = Worker()
        outcome = w.run(["validate", "--help"])
        assert outcome.code == 0, outcome
        yield w
        w.close()


@pytest.mark.parametrize("target", TARGETS)
def test_cli_contract_holds_on_mutated_files(
    target: str, fuzz_inputs: Inputs, worker: Worker
) -> None:
    @settings(
        max_examples=EXAMPLES[target],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(rnd=st.randoms(use_true_random=False), backend=st.sampled_from(["onnx", "tflite"]))
    def one(rnd: object, backend: str) -> None:
        workdir = Path(tempfile.mkdtemp(prefix="fuzz-"))
        try:
            case = make_case(target, fuzz_inputs, rnd, workdir / "case", backend)  # type: ignore[arg-type]
            outcome = worker.run(case.argv)
            problems = check(case, outcome)
            assert not problems, (case.mutation, case.argv, problems, outcome.stderr[-1500:])
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    one()


def test_the_checks_can_fail(fuzz_inputs: Inputs, tmp_path: Path) -> None:
    """The contract check is not vacuous: a traceback, a wrong exit code, a partial output and
    a hang are each reported."""
    from tests.fuzz_cli import Case, Outcome

    case = Case("take-run", ["run"], tmp_path, "none", {"file": tmp_path / "poses.jsonl"})
    (tmp_path / "poses.jsonl").write_text('{"meta": {}}\n{"t_ns": 0')
    bad = Outcome(1, "", "Traceback (most recent call last):\n  x\nValueError: y\n", 0.1)
    problems = check(case, bad)
    assert any("exit code 1" in p for p in problems)
    assert any("traceback" in p for p in problems)
    assert any("was written" in p for p in problems)
    assert check(case, Outcome(None, "", "", 61.0, "timeout")) == ["timeout after 61.0 s"]
    (tmp_path / ".poses.jsonl.abc.tmp").write_text("")
    assert any("temporary" in p for p in check(case, Outcome(2, "", "edgesdk: error: x\n", 0.1)))
