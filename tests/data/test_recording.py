"""Take folders: exact round trip, atomic writes, and bad files named with their problem."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edgesdk.data import recording
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.kinematics import tpose_clip
from edgesdk.data.recording import (
    DEVICE_COLUMNS,
    DEVICE_COLUMNS_NO_UACC,
    HEAD_POSE_FILE,
    META_FILE,
    read_take,
    write_take,
)
from edgesdk.data.simulate import simulate_take
from edgesdk.data.takes import DeviceStream, Take
from edgesdk.errors import EdgeSDKError
from tests.data.test_sensors import moving_clip

ARRAYS = ("t_ns", "acc_mps2", "user_acc_mps2", "gyro_rads", "quat_wxyz")
TRUTH = ("heading_deg", "clock_offset_s", "mount_quat_wxyz", "lever_arm_m")


@pytest.fixture(scope="module")
def take() -> Take:
    specs = [DeviceSpec.glasses(), DeviceSpec.watch("left_wrist"), DeviceSpec.watch("right_wrist"),
             DeviceSpec.phone("right_pocket")]  # fmt: skip
    return simulate_take(moving_clip(duration_s=2.0, fps=60.0), specs, seed=9)


def assert_same_take(a: Take, b: Take) -> None:
    assert sorted(a.streams) == sorted(b.streams)
    assert (a.clip_name, a.seed) == (b.clip_name, b.seed)
    for key, sa in a.streams.items():
        sb = b.streams[key]
        assert sa.spec == sb.spec
        for name in ARRAYS:
            x, y = getattr(sa, name), getattr(sb, name)
            assert x.dtype == y.dtype and np.array_equal(x, y), (key, name)
            assert np.array_equal(np.signbit(x), np.signbit(y))  # -0.0 stays -0.0
        for name in TRUTH:
            assert getattr(sa, name) == getattr(sb, name), (key, name)
    assert (a.head_pose is None) == (b.head_pose is None)
    if a.head_pose is not None and b.head_pose is not None:
        for name in ("t_ns", "pos_m", "quat_wxyz"):
            assert np.array_equal(getattr(a.head_pose, name), getattr(b.head_pose, name))
        assert a.head_pose.rate_hz == b.head_pose.rate_hz
        assert a.head_pose.device_id == b.head_pose.device_id


# --- round trip -----------------------------------------------------------------------------


def test_round_trip_is_exact(take: Take, tmp_path: Path) -> None:
    out = write_take(take, tmp_path / "take_0001")
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "glasses_head.csv", "head_pose.csv", "meta.json", "phone_right_pocket.csv",
        "watch_left_wrist.csv", "watch_right_wrist.csv",
    ]  # fmt: skip
    assert_same_take(take, read_take(out))
    header = (out / "watch_left_wrist.csv").read_text().splitlines()[0]
    assert header == ",".join(DEVICE_COLUMNS)
    assert header.startswith("t_ns,acc_x,acc_y,acc_z,uacc_x,uacc_y,uacc_z,gyro_x")


def test_meta_json_documents_units_clock_and_ground_truth(take: Take, tmp_path: Path) -> None:
    meta = json.loads((write_take(take, tmp_path / "t") / META_FILE).read_text())
    assert meta["format"] == "edgesdk-take" and meta["format_version"] == 1
    assert meta["source_clip"] == "moving" and meta["seed"] == 9
    watch = meta["devices"]["watch_left_wrist"]
    assert (watch["kind"], watch["slot"], watch["rate_hz"]) == ("watch", "left_wrist", 50.0)
    assert watch["bone"] == "left_elbow"
    assert watch["units"]["acc"] == "m/s^2 (specific force, includes gravity), sensor frame"
    assert watch["units"]["gyro"].startswith("rad/s")
    assert watch["units"]["quat"].startswith("wxyz, q_world_sensor, world Z up")
    stream = take.streams["watch_left_wrist"]
    assert watch["clock"]["offset_s"] == stream.clock_offset_s
    assert watch["ground_truth"]["heading_deg"] == stream.heading_deg
    assert watch["num_samples"] == stream.num_samples
    assert meta["head_pose"]["file"] == HEAD_POSE_FILE and meta["head_pose"]["rate_hz"] == 30.0


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 6), data=st.data())
def test_round_trip_of_arbitrary_values(n: int, data: st.DataObject) -> None:
    vec3 = hnp.arrays(np.float64, (n, 3), elements=finite)
    raw_q = data.draw(hnp.arrays(np.float64, (n, 4), elements=st.floats(0.1, 1.0)))
    signs = data.draw(hnp.arrays(np.float64, (n, 4), elements=st.sampled_from([-1.0, 1.0])))
    quat = raw_q * signs / np.linalg.norm(raw_q, axis=1, keepdims=True)
    spec = DeviceSpec("earbuds", "head", rate_hz=data.draw(st.floats(1.0, 1000.0)),
                      heading_deg=None, clock_offset_s=None)  # fmt: skip
    stream = DeviceStream(
        spec=spec,
        t_ns=data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(-(2**63), 2**63 - 1))),
        acc_mps2=data.draw(vec3),
        user_acc_mps2=data.draw(vec3),
        gyro_rads=data.draw(vec3),
        quat_wxyz=quat,
    )
    original = Take({spec.device_id: stream}, clip_name="any", seed=None)
    with tempfile.TemporaryDirectory() as tmp:
        assert_same_take(original, read_take(write_take(original, Path(tmp) / "take")))


# --- atomicity --------------------------------------------------------------------------------


def test_failed_write_leaves_nothing(take: Take, tmp_path: Path, monkeypatch) -> None:
    calls = []
    real_write = recording._write_csv

    def failing(path: Path, *args: object) -> None:
        calls.append(path.name)
        if len(calls) == 3:
            raise OSError("disk full")
        real_write(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(recording, "_write_csv", failing)
    with pytest.raises(EdgeSDKError, match="disk full"):
        write_take(take, tmp_path / "take")
    assert list(tmp_path.iterdir()) == []  # neither the take nor a temporary folder


def test_existing_take_needs_overwrite_and_survives_a_failed_one(
    take: Take, tmp_path: Path, monkeypatch
) -> None:
    out = write_take(take, tmp_path / "take")
    with pytest.raises(EdgeSDKError, match="already exists"):
        write_take(take, out)
    monkeypatch.setattr(recording, "_write_csv", _raise_keyboard_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_take(take, out, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take"]
    assert_same_take(take, read_take(out))  # the old take is intact
    monkeypatch.undo()
    smaller = Take({k: v for k, v in take.streams.items() if k.startswith("watch")}, seed=1)
    write_take(smaller, out, overwrite=True)
    assert sorted(read_take(out).streams) == ["watch_left_wrist", "watch_right_wrist"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take"]


def _raise_keyboard_interrupt(*args: object) -> None:
    raise KeyboardInterrupt


# --- raw recordings without the simulator's extras -------------------------------------------


def test_minimal_recording_without_uacc_or_ground_truth(tmp_path: Path) -> None:
    still = tpose_clip(num_frames=20)
    sim = simulate_take(still, [DeviceSpec("phone", "left_pocket", heading_deg=33.0)], seed=0)
    stream = sim.streams["phone_left_pocket"]
    folder = tmp_path / "from_phone"
    folder.mkdir()
    rows = [",".join(DEVICE_COLUMNS_NO_UACC)]
    for t, a, g, q in zip(stream.t_ns, stream.acc_mps2, stream.gyro_rads, stream.quat_wxyz,
                          strict=True):  # fmt: skip
        rows.append(",".join([str(t), *map(repr, [*a.tolist(), *g.tolist(), *q.tolist()])]))
    (folder / "phone_left_pocket.csv").write_text("\n".join(rows) + "\n")
    meta = {"format_version": 1, "devices": {"phone_left_pocket": {"kind": "phone",
            "slot": "left_pocket", "rate_hz": 100}}}  # fmt: skip
    (folder / META_FILE).write_text(json.dumps(meta))
    back = read_take(folder).streams["phone_left_pocket"]
    assert back.heading_deg is None and back.mount_quat_wxyz is None
    assert back.spec.rate_hz == 100.0 and np.array_equal(back.acc_mps2, stream.acc_mps2)
    assert np.allclose(back.user_acc_mps2, stream.user_acc_mps2, atol=1e-9)  # acc - R^T g


# --- bad files ----------------------------------------------------------------------------


@pytest.fixture
def folder(take: Take, tmp_path: Path) -> Path:
    return write_take(take, tmp_path / "take")


def _edit_csv(path: Path, line: int, new: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = new
    path.write_text("\n".join(lines) + "\n")


def _replace_field(path: Path, line: int, column: int, text: str) -> None:
    fields = path.read_text().splitlines()[line - 1].split(",")
    fields[column] = text
    _edit_csv(path, line, ",".join(fields))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / META_FILE).unlink(), r"meta\.json: missing"),
        (lambda f: (f / META_FILE).write_text("{not json"), r"meta\.json: not valid JSON"),
        (lambda f: (f / META_FILE).write_text('{"format_version": 7, "devices": {}}'),
         r"meta\.json: format_version 7 is not supported"),
        (lambda f: (f / "watch_left_wrist.csv").unlink(), r"watch_left_wrist\.csv: missing"),
        (lambda f: _edit_csv(f / "watch_left_wrist.csv", 1, "time,ax,ay,az"),
         r"watch_left_wrist\.csv: wrong header 'time,ax,ay,az'"),
        (lambda f: _replace_field(f / "watch_left_wrist.csv", 4, 2, "abc"),
         r"watch_left_wrist\.csv: line 4: column acc_y is not a number: 'abc'"),
        (lambda f: _replace_field(f / "phone_right_pocket.csv", 3, 0, "12.5"),
         r"phone_right_pocket\.csv: line 3: column t_ns is not an integer: '12.5'"),
        (lambda f: _replace_field(f / "glasses_head.csv", 5, 8, "nan"),
         r"glasses_head\.csv: line 5: column gyro_y is nan"),
        (lambda f: _replace_field(f / "head_pose.csv", 2, 1, "inf"),
         r"head_pose\.csv: line 2: column pos_x is inf"),
        (lambda f: _edit_csv(f / "watch_left_wrist.csv", 6, "1,2,3"),
         r"watch_left_wrist\.csv: line 6: expected 14 fields, found 3"),
        (lambda f: _replace_field(f / "watch_right_wrist.csv", 2, 10, "3.0"),
         r"watch_right_wrist\.csv: data row 1: quaternion norm"),
    ],
)  # fmt: skip
def test_bad_files_are_named_with_their_problem(folder: Path, damage, message: str) -> None:
    damage(folder)
    with pytest.raises(EdgeSDKError, match=message):
        read_take(folder)


def test_bad_meta_entries(folder: Path) -> None:
    meta = json.loads((folder / META_FILE).read_text())
    meta["devices"]["watch_left_wrist"]["spec"]["colour"] = "red"
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(EdgeSDKError, match="unknown device spec fields"):
        read_take(folder)
    del meta["devices"]["watch_left_wrist"]["spec"]["colour"]
    meta["devices"]["watch_right_wrist"] = meta["devices"].pop("watch_left_wrist")
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(EdgeSDKError, match="kind and slot give id 'watch_left_wrist'"):
        read_take(folder)
    entry = meta["devices"].pop("watch_right_wrist")
    del entry["spec"]
    meta["devices"]["watch_left_wrist"] = {**entry, "rate_hz": "fast"}
    (folder / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(EdgeSDKError, match="rate_hz: expected a finite number, got 'fast'"):
        read_take(folder)


def test_refuses_to_write_non_finite_values(take: Take, tmp_path: Path) -> None:
    stream = take.streams["watch_left_wrist"]
    acc = stream.acc_mps2.copy()
    acc[3, 1] = np.nan
    bad = DeviceStream(stream.spec, stream.t_ns, acc, stream.user_acc_mps2, stream.gyro_rads,
                       stream.quat_wxyz)  # fmt: skip
    with pytest.raises(EdgeSDKError, match="NaN or inf"):
        write_take(Take({bad.device_id: bad}), tmp_path / "bad")
    assert list(tmp_path.iterdir()) == []


def _with_meta(folder: Path, change: Callable[[dict[str, Any]], object]) -> None:
    meta = json.loads((folder / META_FILE).read_text())
    change(meta)
    (folder / META_FILE).write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("seed",), "abc", r"meta\.json: 'seed' is \"abc\": expected an integer or null"),
        (("seed",), 1.5, r"'seed' is 1\.5"),
        (("source_clip",), ["x"], r"'source_clip' is \[\"x\"\]: expected a name"),
        (("devices", "watch_left_wrist", "spec", "rate_hz"), "fast",
         r"devices\.watch_left_wrist\.spec\.rate_hz: wrong type \(\"fast\"\)"),
        (("devices", "watch_left_wrist", "spec", "acc_bias_mps2"), "up",
         r"devices\.watch_left_wrist\.spec\.acc_bias_mps2: wrong type"),
        (("devices", "watch_left_wrist", "ground_truth"), "abc",
         r"devices\.watch_left_wrist\.ground_truth: expected an object"),
        (("devices", "watch_left_wrist", "ground_truth", "lever_arm_m"), [None, 0, 0],
         r"ground_truth\.lever_arm_m: expected a finite number, got None"),
        (("head_pose", "device"), 3, r"head_pose\.device: expected an id, got 3"),
    ],
)  # fmt: skip
def test_wrong_types_in_meta_name_the_field(
    folder: Path, path: tuple[str, ...], value: object, message: str
) -> None:
    """These were tracebacks (int("abc"), float("fast"), "abc".get)."""

    def change(meta: dict[str, Any]) -> None:
        node = meta
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    _with_meta(folder, change)
    with pytest.raises(EdgeSDKError, match=message) as info:
        read_take(folder)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside.csv", "sub/../../outside.csv", ""])
def test_files_named_in_meta_stay_inside_the_take(folder: Path, name: str) -> None:
    """`"file": "/etc/passwd"` read any path and echoed its first line into the error."""
    outside = folder.parent / "outside.csv"
    outside.write_text("secret-first-line\n")

    def change(meta: dict[str, Any]) -> None:
        meta["devices"]["watch_left_wrist"]["file"] = name

    _with_meta(folder, change)
    with pytest.raises(EdgeSDKError, match="is not a file inside the take folder") as info:
        read_take(folder)
    assert "secret" not in str(info.value) and "root:" not in str(info.value)


def test_a_link_out_of_the_take_is_refused(folder: Path) -> None:
    outside = folder.parent / "elsewhere.csv"
    outside.write_text((folder / "watch_left_wrist.csv").read_text())
    (folder / "link.csv").symlink_to(outside)
    _with_meta(folder, lambda meta: meta["devices"]["watch_left_wrist"].update(file="link.csv"))
    with pytest.raises(EdgeSDKError, match=r"'link\.csv' is not a file inside"):
        read_take(folder)
    (folder / "sub").mkdir()
    (folder / "sub" / "w.csv").write_text((folder / "watch_left_wrist.csv").read_text())
    _with_meta(folder, lambda meta: meta["devices"]["watch_left_wrist"].update(file="sub/w.csv"))
    assert read_take(folder).streams["watch_left_wrist"].num_samples > 0  # inside: fine
