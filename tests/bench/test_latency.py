"""Latency: percentiles, call counts, the state fed back per call, isolated peak RSS."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgesdk.bench import latency
from edgesdk.bench.latency import artifact_latency, peak_rss, percentiles, time_calls
from edgesdk.errors import EdgeSDKError
from edgesdk.export.manifest import read_manifest
from edgesdk.export.runners import open_runner


class StateChecker:
    """Wraps a run function: counts calls and checks that each call's state inputs are the
    previous call's state outputs (zeros on the first call of a stream)."""

    def __init__(self, run: Any, state: list[tuple[int, int]]) -> None:
        self.run, self.state, self.calls, self.previous = run, state, 0, None

    def __call__(self, feed: list[np.ndarray]) -> list[np.ndarray]:
        for out_i, in_i in self.state:
            expected = np.zeros_like(feed[in_i]) if self.previous is None else self.previous[out_i]
            assert np.array_equal(feed[in_i], expected), f"call {self.calls}: state not fed back"
        out = list(self.run(feed))
        self.previous, self.calls = out, self.calls + 1
        return out


def test_percentiles_are_ordered_and_calls_counted() -> None:
    delays = iter([0.0, 0.002, 0.0] * 100)
    seen = []

    def run(feed: list[Any]) -> list[Any]:
        seen.append(1)
        time.sleep(next(delays))
        return feed

    f = time_calls(run, [[np.zeros(1)]], calls=150, warmup=7)
    assert (f["calls"], f["warmup"], len(seen)) == (150, 7, 157)
    assert f["min_ms"] <= f["p50_ms"] <= f["p90_ms"] <= f["p99_ms"] <= f["max_ms"]
    assert f["p99_ms"] >= 2.0 > f["p50_ms"]  # a third of the calls sleep 2 ms


def test_percentiles_of_known_times() -> None:
    f = percentiles([float(i) for i in range(1, 101)])
    assert f["p50_ms"] == pytest.approx(50.5)
    assert f["p90_ms"] == pytest.approx(90.1)
    assert f["p99_ms"] == pytest.approx(99.01)
    with pytest.raises(EdgeSDKError, match="no timed calls"):
        percentiles([])


def test_state_is_fed_back_through_warmup_and_timed_calls() -> None:
    def step(feed: list[np.ndarray]) -> list[np.ndarray]:
        return [feed[0] * 2.0, feed[1] + 1.0]  # (pose, next state)

    checker = StateChecker(step, [(1, 1)])
    frames = [[np.full(2, i, np.float32), np.zeros(3, np.float32)] for i in range(5)]
    time_calls(checker, frames, state=[(1, 1)], calls=100, warmup=10)
    assert checker.calls == 110
    assert checker.previous is not None
    np.testing.assert_array_equal(checker.previous[1], np.full(3, 110.0))


def test_without_state_pairs_the_feed_is_used_as_is() -> None:
    got = []
    time_calls(lambda f: got.append(f[0].copy()) or [f[0] + 1], [[np.zeros(1)]], calls=100)
    assert all(g[0] == 0.0 for g in got)


@pytest.mark.parametrize("calls,warmup", [(0, 1), (5, -1)])
def test_bad_call_counts(calls: int, warmup: int) -> None:
    with pytest.raises(EdgeSDKError, match="calls="):
        time_calls(lambda f: f, [[np.zeros(1)]], calls=calls, warmup=warmup)


def test_artifact_latency_feeds_the_state_of_a_real_artifact(
    onnx_artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    io = read_manifest(onnx_artifact)["io"]
    state = latency.state_indices(io)
    assert [(io["outputs"][o]["name"], io["inputs"][i]["name"]) for o, i in state] == [
        ("next_gru_h", "gru_h"),
        ("next_prev", "prev"),
    ]
    checkers: list[StateChecker] = []

    class Wrapped:
        def __init__(self, path: Path, threads: int) -> None:
            self.inner = open_runner(path, threads)
            checkers.append(StateChecker(self.inner.run, state))
            self.run = checkers[-1]

    monkeypatch.setattr("edgesdk.export.runners.open_runner", Wrapped)
    figures = artifact_latency(onnx_artifact, threads=(1, 2), calls=100, warmup=5)
    assert list(figures) == ["1", "2"]
    assert [c.calls for c in checkers] == [105, 105]
    for f in figures.values():
        assert f["calls"] == 100 and 0 < f["p50_ms"] <= f["p90_ms"] <= f["p99_ms"]
    # The state changed along the stream: it was fed back, not reset to zeros.
    assert checkers[0].previous is not None and np.abs(checkers[0].previous[-2]).max() > 0


def test_peak_rss_is_measured_in_a_fresh_process(onnx_artifact: Path) -> None:
    ballast = np.ones(300 * 2**20 // 8)  # 300 MiB in this process, not in the child
    figures = peak_rss(onnx_artifact, calls=5)
    assert ballast.sum() > 0
    assert 0 < figures["baseline_rss_mb"] <= figures["peak_rss_mb"] < 250
    assert figures["load_and_run_rss_mb"] == pytest.approx(
        figures["peak_rss_mb"] - figures["baseline_rss_mb"], abs=0.11
    )


def test_peak_rss_reports_a_failing_child(tmp_path: Path) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(EdgeSDKError, match="peak-RSS subprocess failed"):
        peak_rss(bad)
