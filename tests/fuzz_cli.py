"""Robustness of the command line on mutated real files: the engine of the property-based
suite (``tests/test_robustness.py``) and of its larger run (``benchmarks/robustness.py``).

A case copies real inputs (a bundled CMU BVH, a take written by ``data synth``, an exported
artifact and its manifest) into a fresh folder, mutates one of them (bytes, lines, tokens, or
JSON values), runs one ``edgesdk`` command on it and checks the contract:

- the exit code is 0 or 2 (``validate`` and ``bench`` may also say 1: their gate failed);
- stderr holds no traceback and at most one error line (the last), exactly one on exit 2;
- the command ends within the time bound;
- the final output is complete or absent (``run``'s poses.jsonl, ``data synth``'s take,
  ``bench``'s JSON), and no temporary file is left beside it.

Cases run in a worker process that calls ``edgesdk.cli.main`` in-process (fast); a case that
outlives its bound, or kills the worker (a native abort), is a failure and the worker is
replaced. Mutations draw from a ``random.Random``, so hypothesis (``st.randoms``) and the
benchmark's seeded loop share them.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import multiprocessing
import os
import random
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# Values that have broken parsers before: empty, non-finite, huge, tiny, negative, text.
TOKENS = (
    "", "nan", "NaN", "inf", "-inf", "1e308", "-1e308", "1e-320", "0", "-0", "-1", "1",
    "99999999999999999999999", "0.0000001", "100000", "abc", "-", ".", "1,2", "{", "}",
    "\x00", "é", "１", "0x10", "1e5", "2e9",
)  # fmt: skip
JSON_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 2**63, -(2**63), 1e308, -1e308, 1e-320, math.nan, math.inf,
    -math.inf, 0.5, "", "abc", "/etc/passwd", "../../outside.csv", "a" * 300, [], [1, 2],
    [[]], {}, {"x": 1}, 30, -30.0, 1e6, "fast",
)  # fmt: skip
COMMANDS_WITH_A_GATE = ("validate", "bench")  # exit 1: the artifact or a budget failed
CASE_TIMEOUT_S = 60.0


# -- mutations ------------------------------------------------------------------------------


def mutate_bytes(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """One byte-level change: flip, truncate, insert, delete a span or duplicate one."""
    if not data:
        return bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 64))), "random bytes"
    op = rnd.choice(("flip", "truncate", "insert", "delete", "duplicate", "zero"))
    i = rnd.randrange(len(data))
    if op == "flip":
        n = rnd.choice((1, 1, 2, 8, 64))
        out = bytearray(data)
        for _ in range(n):
            out[rnd.randrange(len(out))] ^= 1 << rnd.randrange(8)
        return bytes(out), f"flip {n} bits"
    if op == "truncate":
        return data[:i], f"truncate at {i} of {len(data)}"
    if op == "insert":
        junk = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 32)))
        return data[:i] + junk + data[i:], f"insert {len(junk)} bytes at {i}"
    j = min(len(data), i + rnd.randint(1, 256))
    if op == "delete":
        return data[:i] + data[j:], f"delete bytes {i}:{j}"
    if op == "zero":
        return data[:i] + bytes(j - i) + data[j:], f"zero bytes {i}:{j}"
    return data[:j] + data[i:j] + data[j:], f"duplicate bytes {i}:{j}"


def mutate_text(text: str, rnd: random.Random) -> tuple[str, str]:
    """One line- or token-level change of a text file (BVH, CSV)."""
    lines = text.split("\n")
    op = rnd.choice(("token", "token", "token", "drop_line", "dup_line", "swap_lines", "line"))
    k = rnd.randrange(len(lines))
    if op == "drop_line":
        return "\n".join(lines[:k] + lines[k + 1 :]), f"drop line {k + 1}"
    if op == "dup_line":
        return "\n".join(lines[: k + 1] + lines[k:]), f"duplicate line {k + 1}"
    if op == "swap_lines":
        m = rnd.randrange(len(lines))
        lines[k], lines[m] = lines[m], lines[k]
        return "\n".join(lines), f"swap lines {k + 1} and {m + 1}"
    if op == "line":
        lines[k] = rnd.choice(TOKENS)
        return "\n".join(lines), f"replace line {k + 1}"
    sep = "," if lines[k].count(",") > lines[k].count(" ") else " "
    parts = lines[k].split(sep)
    j = rnd.randrange(len(parts))
    token = rnd.choice(TOKENS)
    parts[j] = token
    lines[k] = sep.join(parts)
    return "\n".join(lines), f"line {k + 1} field {j + 1} -> {token!r}"


def mutate_json(obj: Any, rnd: random.Random) -> tuple[Any, str]:
    """One change of a JSON document: a value replaced, a key deleted or added."""
    paths = list(_json_paths(obj))
    path = rnd.choice(paths)
    op = rnd.choice(("replace", "replace", "replace", "delete", "add"))
    if not path:
        return rnd.choice(JSON_VALUES), "replace the whole document"
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    where = ".".join(map(str, path))
    if op == "delete":
        del parent[path[-1]]
        return obj, f"delete {where}"
    if op == "add" and isinstance(parent, dict):
        value = rnd.choice(JSON_VALUES)
        parent["unexpected_key"] = value
        return obj, f"add unexpected_key={value!r} beside {where}"
    value = rnd.choice(JSON_VALUES)
    parent[path[-1]] = value
    return obj, f"{where} -> {value!r}"


def _json_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Any:
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _json_paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj[:8]):
            yield from _json_paths(value, (*prefix, i))


def mutate_file(path: Path, rnd: random.Random) -> str:
    """Mutate a file in place the way its kind suggests; returns what was done."""
    data = path.read_bytes()
    roll = rnd.random()
    if path.suffix == ".json" and roll < 0.8:
        try:
            obj, what = mutate_json(json.loads(data), rnd)
            path.write_text(json.dumps(obj))
            return f"{path.name}: {what}"
        except (ValueError, RecursionError):
            pass
    if path.suffix in (".bvh", ".csv", ".json") and roll < 0.8:
        text, what = mutate_text(data.decode("utf-8", errors="replace"), rnd)
        path.write_text(text, encoding="utf-8")
        return f"{path.name}: {what}"
    new, what = mutate_bytes(data, rnd)
    path.write_bytes(new)
    return f"{path.name}: {what}"


def rehash_manifest(artifact: Path) -> None:
    """Make the manifest's size and hash fit the artifact's bytes now (to reach the checks
    after the hash), when the manifest is still a JSON object."""
    from edgesdk.export.manifest import artifact_digest, manifest_path

    path = manifest_path(artifact)
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return
    if isinstance(data, dict):
        data["file_size_bytes"], data["sha256"] = artifact_digest(artifact)
        path.write_text(json.dumps(data))


# -- cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """The real files cases start from."""

    bvh: Path  # a bundled CMU clip
    take: Path  # a take folder written by `data synth`
    artifacts: dict[str, Path]  # backend -> an exported artifact, its manifest beside it
    data: Path  # mocap folder for `validate` (its test split)


@dataclass
class Case:
    target: str
    argv: list[str]
    workdir: Path
    mutation: str
    outputs: dict[str, Path] = field(default_factory=dict)  # "file" / "take" / "json" -> path


TARGETS = (
    "bvh-info",
    "bvh-synth",
    "take-run",
    "manifest-run",
    "manifest-bench",
    "manifest-validate",
    "artifact-run",
    "artifact-bench",
)


def make_case(
    target: str, inputs: Inputs, rnd: random.Random, workdir: Path, backend: str = "onnx"
) -> Case:
    """Copy the inputs ``target`` needs into ``workdir``, mutate one, and build the command."""
    workdir.mkdir(parents=True, exist_ok=True)
    if target.startswith("bvh-"):
        bvh = workdir / inputs.bvh.name
        shutil.copy(inputs.bvh, bvh)
        what = mutate_file(bvh, rnd)
        if target == "bvh-info":
            return Case(target, ["data", "info", str(bvh)], workdir, what)
        out = workdir / "takes"
        argv = ["data", "synth", "--data", str(bvh), "--out", str(out), "--quiet"]
        argv += ["--devices", "watch:left_wrist"]
        return Case(target, argv, workdir, what, {"take": out / bvh.stem})
    take = workdir / "take"
    shutil.copytree(inputs.take, take)
    artifact = _copy_artifact(inputs.artifacts[backend], workdir)
    what = ""
    if target == "take-run":
        files = sorted(p for p in take.iterdir() if p.is_file())
        what = mutate_file(rnd.choice(files), rnd)
    elif target.startswith("manifest-"):
        from edgesdk.export.manifest import manifest_path

        what = mutate_file(manifest_path(artifact), rnd)
    else:
        what = mutate_file(artifact, rnd)
        if rnd.random() < 0.7:
            rehash_manifest(artifact)
            what += " (manifest rehashed)"
    command = target.split("-")[1]
    if command == "run":
        out = workdir / "poses.jsonl"
        argv = ["run", "--artifact", str(artifact), "--replay", str(take), "--out", str(out)]
        return Case(target, argv, workdir, what, {"file": out})
    if command == "bench":
        out = workdir / "bench.json"
        argv = ["bench", "--artifact", str(artifact), "--json", str(out), "--threads", "1"]
        argv += ["--calls", "100", "--warmup", "0", "--no-rss", "--quiet"]
        return Case(target, argv, workdir, what, {"json": out})
    argv = ["validate", str(artifact), "--data", str(inputs.data), "--windows", "1", "--quiet"]
    return Case(target, argv, workdir, what)


def _copy_artifact(src: Path, workdir: Path) -> Path:
    from edgesdk.export.manifest import manifest_path

    dst = workdir / src.name
    shutil.copy(src, dst)
    shutil.copy(manifest_path(src), manifest_path(dst))
    return dst


# -- running --------------------------------------------------------------------------------


@dataclass
class Outcome:
    code: int | None  # None: no exit code (hung, or the worker died)
    stdout: str
    stderr: str
    seconds: float
    died: str = ""  # "timeout" or the worker's exit status


def _serve(conn: Connection) -> None:
    """The worker: run each argv through ``edgesdk.cli.main`` in this process."""
    from edgesdk.cli import main

    while True:
        try:
            argv = conn.recv()
        except EOFError:
            return
        if argv is None:
            return
        out, err = io.StringIO(), io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code: int | None = main(list(argv))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # escaped main: what the console script would print
                traceback.print_exc()
                code = 1
        conn.send((code, out.getvalue(), err.getvalue(), time.perf_counter() - started))


class Worker:
    """A process running CLI calls; replaced when a call hangs or kills it."""

    def __init__(self) -> None:
        self._proc: Any = None
        self._conn: Connection | None = None

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        # not a daemon: `validate` loads clips in a process pool of its own; the worker ends
        # when its pipe closes
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=False)
        self._proc.start()
        child.close()
        self._conn = parent

    def run(self, argv: Sequence[str], timeout_s: float = CASE_TIMEOUT_S) -> Outcome:
        if self._proc is None or not self._proc.is_alive():
            self._start()
        assert self._conn is not None
        started = time.perf_counter()
        self._conn.send(list(argv))
        try:
            ready = self._conn.poll(timeout_s)
            if ready:
                code, out, err, seconds = self._conn.recv()
                return Outcome(code, out, err, seconds)
            died = "timeout"
        except (EOFError, ConnectionError, OSError):
            died = "worker died"
        self._proc.join(0.5)
        status = self._proc.exitcode
        self.close()
        if died == "worker died" and status is not None:
            died = f"worker died (exit status {status})"
        return Outcome(None, "", "", time.perf_counter() - started, died)

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            with contextlib.suppress(OSError, BrokenPipeError):
                assert self._conn is not None
                self._conn.send(None)
            self._proc.join(2.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(2.0)
        self._proc, self._conn = None, None


# -- checking -------------------------------------------------------------------------------


def check(case: Case, outcome: Outcome) -> list[str]:
    """What the case broke of the contract (empty: it held)."""
    if outcome.died:
        return [f"{outcome.died} after {outcome.seconds:.1f} s"]
    problems = []
    allowed = {0, 2} | ({1} if case.argv[0] in COMMANDS_WITH_A_GATE else set())
    if outcome.code not in allowed:
        problems.append(f"exit code {outcome.code}")
    if "Traceback (most recent call last)" in outcome.stderr:
        problems.append("traceback: " + outcome.stderr.strip().splitlines()[-1][:200])
    lines = outcome.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("edgesdk") and ": error: " in line]
    if len(errors) > 1 or (errors and lines[-1] != errors[-1]):
        problems.append(f"{len(errors)} error lines, or not last: {lines[-3:]}")
    if outcome.code == 2 and not errors:
        problems.append(f"exit 2 without an error line: {lines[-2:]}")
    problems += _check_outputs(case, outcome)
    return problems


def _check_outputs(case: Case, outcome: Outcome) -> list[str]:
    problems = []
    ok = outcome.code == 0
    path = case.outputs.get("file")
    if path is not None:
        if path.exists() and not ok:
            problems.append(f"exit {outcome.code} but {path.name} was written")
        if ok:
            problems += _complete_poses(path, outcome.stdout)
    take = case.outputs.get("take")
    if take is not None:
        if take.exists() and not ok:
            problems.append(f"exit {outcome.code} but the take {take.name} was written")
        if ok:
            from edgesdk.data.recording import read_take
            from edgesdk.errors import EdgeSDKError

            try:
                read_take(take)
            except EdgeSDKError as exc:
                problems.append(f"written take unreadable: {exc}")
    bench = case.outputs.get("json")
    if bench is not None:
        if bench.exists() and outcome.code == 2:
            problems.append("exit 2 but the results JSON was written")
        if bench.exists():
            try:
                json.loads(bench.read_text())
            except ValueError:
                problems.append("partial results JSON")
    left = [p.name for p in case.workdir.rglob(".*") if ".tmp" in p.name or ".export-" in p.name]
    if left:
        problems.append(f"temporary files left: {left[:3]}")
    return problems


def _complete_poses(path: Path, stdout: str) -> list[str]:
    if not path.is_file():
        return [f"exit 0 but no {path.name}"]
    try:
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        frames = json.loads(stdout.strip().splitlines()[-1])["frames"]
    except (ValueError, KeyError, IndexError) as exc:
        return [f"{path.name} or the summary is not complete JSON ({exc})"]
    if "meta" not in lines[0] or len(lines) - 1 != frames:
        return [f"{path.name}: {len(lines) - 1} frames written, summary says {frames}"]
    return []


# -- a run ----------------------------------------------------------------------------------


@dataclass
class Tally:
    cases: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    per_target: dict[str, dict[str, int]] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, case: Case, outcome: Outcome, problems: list[str]) -> None:
        self.cases += 1
        self.seconds += outcome.seconds
        counts = self.per_target.setdefault(case.target, {"cases": 0, "failures": 0})
        counts["cases"] += 1
        key = str(outcome.code) if outcome.code is not None else outcome.died
        self.exit_codes[key] = self.exit_codes.get(key, 0) + 1
        if problems:
            counts["failures"] += 1
            self.failures.append(
                {
                    "target": case.target,
                    "argv": case.argv,
                    "mutation": case.mutation,
                    "problems": problems,
                }
            )


def run_cases(
    inputs: Inputs,
    targets: Sequence[str],
    count: int,
    seed: int,
    root: Path,
    worker: Worker,
    budget_s: float | None = None,
    on_case: Callable[[Case, Outcome, list[str]], None] | None = None,
) -> Tally:
    """``count`` cases (round robin over ``targets``) from ``seed``, or fewer when
    ``budget_s`` of wall time is spent; each case's folder is removed after its check."""
    tally = Tally()
    started = time.perf_counter()
    for i in range(count):
        if budget_s is not None and time.perf_counter() - started > budget_s:
            break
        target = targets[i % len(targets)]
        rnd = random.Random(f"{seed}-{i}")
        backend = rnd.choice(sorted(inputs.artifacts))
        workdir = root / f"case-{i:05d}"
        case = make_case(target, inputs, rnd, workdir, backend)
        outcome = worker.run(case.argv)
        problems = check(case, outcome)
        tally.add(case, outcome, problems)
        if on_case is not None:
            on_case(case, outcome, problems)
        shutil.rmtree(workdir, ignore_errors=True)
    return tally


def environment() -> dict[str, str]:
    """The settings a run records (threads matter for timing)."""
    return {k: os.environ.get(k, "") for k in ("OMP_NUM_THREADS", "EDGESDK_CACHE")}
