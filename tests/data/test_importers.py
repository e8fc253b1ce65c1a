"""``edgesdk data import``: every format on small generated files (units, signs, quaternion
order, timestamps, labels, bad rows counted or refused, atomic output) and on the real
recordings in ``../shared/data/devices`` (skipped when absent)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from edgesdk.cli import main
from edgesdk.data.importers import import_recordings
from edgesdk.data.importers.common import spread_repeats
from edgesdk.data.recording import read_take
from edgesdk.errors import EdgeSDKError

G = 9.80665
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "devices"
SP_HEADER = "x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label"


@pytest.fixture(scope="module")
def devices_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"real device recordings not found at {SHARED} (../shared/data/devices)")
    return SHARED


def _sp_sw_har(root: Path, phone_rows: list[str] | None = None) -> Path:
    """A one-execution sp-sw-har folder; the phone file has a repeated millisecond."""
    (root / "s01").mkdir(parents=True)
    rows = phone_rows or [
        f"0.1,0.2,-9.8,0.01,0.02,0.03,{1_657_000_000_000 + 10 * i},"
        + ("SEATED" if i < 5 else "WALKING")
        for i in range(10)
    ]
    (root / "s01" / "s01_01_sp.csv").write_text("\n".join([SP_HEADER, *rows]) + "\n")
    watch = [f"0.0,0.0,9.8,0.0,0.0,0.0,{1_657_000_000_005 + 10 * i},SEATED" for i in range(8)]
    (root / "s01" / "s01_01_sw.csv").write_text("\n".join([SP_HEADER, *watch]) + "\n")
    (root / "executions_info.csv").write_text(
        "execution_id,orientation,first_turn,second_turn\ns01_01,back_inv,l,r\n"
    )
    (root / "subjects_info.csv").write_text(
        "subject_id,age,gender,height,weight,dominant_hand,executions\ns01,54,M,190,83,R,1\n"
    )
    return root


def test_sp_sw_har_take(tmp_path: Path) -> None:
    stamps_ms = [0, 10, 20, 20, 40, 50]  # two samples in one millisecond
    rows = [f"0.1,0.2,-9.8,0.01,0.02,0.03,{1_657_000_000_000 + ms},SEATED" for ms in stamps_ms]
    rows[3] = rows[3].replace("0.1,", "0.5,", 1)
    src = _sp_sw_har(tmp_path / "set", [*rows, "0.1,0.2,-9.8,0.0,0.0,0.0,1657000000060,WALKING"])
    summary = import_recordings(src, "sp-sw-har", tmp_path / "takes")
    assert summary["takes"] == 1 and summary["samples"] == {"s01_01": {"phone": 7, "watch": 8}}
    take = read_take(tmp_path / "takes" / "s01_01")
    phone = take.streams["phone"]
    assert phone.spec.slot is None and phone.spec.kind == "phone"
    t0 = 1_657_000_000_000 * 10**6
    # ms -> ns; the two samples stamped 20 ms are spread evenly up to the next stamp, 40 ms
    ms = [0, 10, 20, 30, 40, 50, 60]
    assert (phone.t_ns - t0).tolist() == [m * 1_000_000 for m in ms]
    assert phone.acc_mps2[3, 0] == 0.5 and phone.acc_mps2[0, 2] == -9.8  # Android units kept
    meta = take.meta
    assert meta["repeated_timestamps"] == {"phone": 1, "watch": 0}
    assert meta["dropped"] == {"phone": {}, "watch": {}}
    assert meta["activity_labels"]["phone"] == [
        ["SEATED", t0, t0 + 50_000_000],
        ["WALKING", t0 + 60_000_000, t0 + 60_000_000],
    ]
    assert meta["source"]["execution"] == {
        "orientation": "back_inv",
        "first_turn": "l",
        "second_turn": "r",
    }
    assert meta["source"]["subject"]["height"] == "190"
    assert meta["orientation"] == {"phone": "filter", "watch": "filter"}
    # the filter's quaternion passes the docs' self-check: R(q) acc is about +g on Z
    q = take.streams["watch"].quat_wxyz
    assert q is not None
    w, x, y, z = q[-1]
    up = np.array([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)])
    assert up @ take.streams["watch"].acc_mps2[-1] == pytest.approx(9.8, abs=1e-3)


def test_spread_repeats_rule() -> None:
    t, moved = spread_repeats(np.array([0, 10, 10, 10, 40, 40], dtype=np.int64))
    assert t.tolist() == [0, 10, 20, 30, 40, 50] and moved == 3  # the last run: median period


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("0.1,nan,-9.8,0,0,0,1657000000035,SEATED", "not_finite"),
        ("0.1,abc,-9.8,0,0,0,1657000000035,SEATED", "not_numeric"),
        ("0.1,0.2,-9.8,0,0,0,1656999990000,SEATED", "time_backwards"),
        ("0.1,0.2,-9.8,0,0,1657000000035,SEATED", "wrong_field_count"),
    ],
)
def test_bad_rows_are_dropped_and_counted(tmp_path: Path, bad_row: str, reason: str) -> None:
    rows = [f"0.1,0.2,-9.8,0,0,0,{1_657_000_000_000 + 10 * i},SEATED" for i in range(8)]
    rows.insert(4, bad_row)
    src = _sp_sw_har(tmp_path / "set", rows)
    import_recordings(src, "sp-sw-har", tmp_path / "takes")
    take = read_take(tmp_path / "takes" / "s01_01")
    assert take.meta["dropped"]["phone"] == {reason: 1}
    assert take.streams["phone"].num_samples == 8


def test_small_steps_back_are_sorted(tmp_path: Path) -> None:
    rows = [f"{i},0,9.8,0,0,0,{1_657_000_000_000 + 10 * i},SEATED" for i in range(6)]
    rows[2], rows[3] = rows[3], rows[2]  # 10 ms back: jitter, kept and sorted
    import_recordings(_sp_sw_har(tmp_path / "set", rows), "sp-sw-har", tmp_path / "t")
    phone = read_take(tmp_path / "t" / "s01_01").streams["phone"]
    assert phone.acc_mps2[:, 0].tolist() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", "s01_01_sw.csv: missing"),
        ("header", "s01_01_sw.csv: line 1: wrong header"),
        ("empty", "s01_01_sw.csv: no usable rows"),
    ],
)
def test_bad_files_are_refused_in_one_line_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, message: str
) -> None:
    src = _sp_sw_har(tmp_path / "set")
    (src / "s01" / "s01_02_sp.csv").write_text((src / "s01" / "s01_01_sp.csv").read_text())
    (src / "s01" / "s01_02_sw.csv").write_text((src / "s01" / "s01_01_sw.csv").read_text())
    bad = src / "s01" / "s01_01_sw.csv"
    if change == "missing":
        bad.unlink()
    elif change == "header":
        bad.write_text("x,y,z\n" + "\n".join(bad.read_text().splitlines()[1:]))
    else:
        bad.write_text(SP_HEADER + "\nnan,0,0,0,0,0,1,SEATED\n")
    out = tmp_path / "takes"
    code = main(["data", "import", str(src), "--format", "sp-sw-har", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists() or not any(out.iterdir())  # s01_02 was not written either


def test_slots_from_the_user(tmp_path: Path) -> None:
    src = _sp_sw_har(tmp_path / "set")
    import_recordings(src, "sp-sw-har", tmp_path / "t", slots={"phone": "right_pocket"})
    take = read_take(tmp_path / "t" / "s01_01")
    assert sorted(take.streams) == ["phone_right_pocket", "watch"]
    assert take.meta["user_slots"] == {"phone_right_pocket": "right_pocket"}
    assert "phone_right_pocket" in take.meta["activity_labels"]
    with pytest.raises(EdgeSDKError, match="no such device"):
        import_recordings(src, "sp-sw-har", tmp_path / "u", slots={"glasses": "head"})
    with pytest.raises(EdgeSDKError, match="already exists"):
        import_recordings(src, "sp-sw-har", tmp_path / "t")


def test_orientation_none_writes_raw_columns(tmp_path: Path) -> None:
    src = _sp_sw_har(tmp_path / "set")
    import_recordings(src, "sp-sw-har", tmp_path / "t", orientation="none")
    folder = tmp_path / "t" / "s01_01"
    assert (folder / "phone.csv").read_text().startswith("t_ns,acc_x,acc_y,acc_z,gyro_x,")
    take = read_take(folder)
    assert take.streams["phone"].quat_wxyz is None and take.meta["orientation"]["phone"] == "none"


def _trial(folder: Path, attitude: bool = True) -> Path:
    """Face up and still for 1 s: CoreMotion reads z = -1 g; gyro and attitude stamped apart."""
    folder.mkdir(parents=True)
    acc = [f"{100 + 0.01 * i:.4f} 0.0 0.0 -1.0" for i in range(101)]
    gyro = [f"{100.005 + 0.0106 * i:.4f} 0.01 0.0 0.0" for i in range(94)]
    (folder / "accelerometer.txt").write_text("\n".join(acc) + "\n")
    (folder / "gyroscope.txt").write_text("\n".join(gyro) + "\n")
    if attitude:
        c, s = math.cos(0.25), math.sin(0.25)  # 30 degrees of heading, about Z: w x y z
        att = [f"{100.005 + 0.0106 * i:.4f} {c} 0.0 0.0 {s}" for i in range(94)]
        (folder / "attitude.txt").write_text("\n".join(att) + "\n")
    (folder / "description.txt").write_text("[Time]\nBootTime = 99.5\n")
    return folder


def test_coremotion_txt(tmp_path: Path) -> None:
    _trial(tmp_path / "ios" / "walk")
    import_recordings(tmp_path / "ios", "coremotion-txt", tmp_path / "t")
    take = read_take(tmp_path / "t" / "walk")
    phone = take.streams["phone"]
    assert np.allclose(phone.acc_mps2, [0.0, 0.0, G])  # -9.80665 * a: face up reads +g
    assert phone.t_ns[0] == 100_010_000_000  # the first accelerometer sample inside the gyro
    assert take.meta["dropped"]["phone"] == {"outside_gyro_span": 2}
    assert np.allclose(phone.gyro_rads, [0.01, 0.0, 0.0])
    assert phone.quat_wxyz is not None
    assert np.allclose(phone.quat_wxyz, [math.cos(0.25), 0, 0, math.sin(0.25)])
    assert take.meta["orientation"]["phone"] == "device"
    assert take.meta["source"]["boot_time_s"] == 99.5
    assert np.allclose(phone.user_acc_mps2, 0.0, atol=1e-9)  # type: ignore[arg-type]


def test_android_csv(tmp_path: Path) -> None:
    lines = ["sensor,timestamp_ns,x,y,z,w"]
    half = math.sqrt(0.5)
    for i in range(20):
        t = 5_000_000_000_000_000_000 + i * 10_000_000  # beyond float64's 53 bits: kept exact
        lines.append(f"android.sensor.accelerometer,{t + 1},0.0,9.81,0.0,")
        lines.append(f"gyroscope,{t},0.0,0.0,0.2,")
        # upright in portrait: +90 degrees about X, values x, y, z, w; every other one with no w
        lines.append(f"game_rotation_vector,{t},{half},0.0,0.0," + (f"{half}" if i % 2 else ""))
    lines.append("magnetic_field,5000000000000000000,1,2,3,")
    lines.append("gyroscope,5000000000000000001,oops,0,0,")
    src = tmp_path / "rec.csv"
    src.write_text("\n".join(lines) + "\n")
    import_recordings(src, "android-csv", tmp_path / "t", kind="watch")
    take = read_take(tmp_path / "t" / "rec")
    watch = take.streams["watch"]
    assert watch.t_ns[0] == 5_000_000_000_000_000_001 and watch.num_samples == 19
    assert take.meta["dropped"]["watch"] == {
        "other_sensor": 1,
        "not_numeric": 1,
        "outside_gyro_span": 1,
    }
    assert np.allclose(watch.quat_wxyz, [half, half, 0.0, 0.0])  # type: ignore[arg-type]
    assert np.allclose(watch.user_acc_mps2, [0.0, 9.81 - G, 0.0])  # type: ignore[arg-type]


def test_ios_csv(tmp_path: Path) -> None:
    header = (
        "timestamp,gravity_x,gravity_y,gravity_z,user_acc_x,user_acc_y,user_acc_z,"
        "rotation_rate_x,rotation_rate_y,rotation_rate_z,quat_x,quat_y,quat_z,quat_w"
    )
    rows = [f"{1000 + 0.01 * i:.2f},0,0,-1,0.1,0,0,0,0,0.3,0,0,0,1" for i in range(30)]
    rows.insert(5, "1000.045,0,0,-1,0,0,0,0,0,0,0,0,0,2")  # not a unit quaternion
    (tmp_path / "ios").mkdir()
    (tmp_path / "ios" / "rec.csv").write_text("\n".join([header, *rows]) + "\n")
    import_recordings(tmp_path / "ios", "ios-csv", tmp_path / "t")
    take = read_take(tmp_path / "t" / "rec")
    phone = take.streams["phone"]
    assert np.allclose(phone.acc_mps2, [-0.1 * G, 0.0, G])
    assert np.allclose(phone.user_acc_mps2, [-0.1 * G, 0.0, 0.0])  # type: ignore[arg-type]
    assert np.allclose(phone.gyro_rads, [0.0, 0.0, 0.3]) and phone.t_ns[1] == 1000_010_000_000
    assert take.meta["dropped"]["phone"] == {"bad_quat": 1}


def test_cli_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _sp_sw_har(tmp_path / "set")
    code = main(
        [
            "data",
            "import",
            str(src / "s01"),
            "--format",
            "sp-sw-har",
            "--out",
            str(tmp_path / "t"),
            "--slot",
            "watch=left_wrist",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["takes"] == 1 and summary["samples"] == {"phone": 10, "watch_left_wrist": 8}
    code = main(
        [
            "data",
            "import",
            str(src),
            "--format",
            "sp-sw-har",
            "--out",
            str(tmp_path),
            "--slot",
            "watch=wrist",
        ]
    )
    assert code == 2 and "expected DEVICE=SLOT" in capsys.readouterr().err


# -- the real recordings


def test_real_sp_sw_har_execution(devices_dir: Path, tmp_path: Path) -> None:
    src = devices_dir / "sp-sw-har" / "s01" / "s01_01_sp.csv"
    summary = import_recordings(src, "sp-sw-har", tmp_path / "t")
    assert summary["takes"] == 1
    take = read_take(tmp_path / "t" / "s01_01")
    assert take.streams["phone"].num_samples == 1351
    assert take.meta["repeated_timestamps"]["phone"] == 108
    assert take.meta["source"]["execution"]["orientation"] == "back_inv"
    labels = [seg[0] for seg in take.meta["activity_labels"]["phone"]]
    assert labels[0] == "SEATED" and "WALKING" in labels and "TURNING" in labels
    for stream in take.streams.values():
        assert np.all(np.diff(stream.t_ns) > 0)
        norm = np.linalg.norm(stream.acc_mps2[:20], axis=1)  # seated at the start: about g
        assert np.all(np.abs(norm - G) < 1.0)


def test_real_coremotion_attitude_is_q_world_sensor(devices_dir: Path, tmp_path: Path) -> None:
    trial = devices_dir / "attitude" / "ios" / "Jakob_iPhone5_NoDist_Texting"
    import_recordings(trial, "coremotion-txt", tmp_path / "t")
    phone = read_take(tmp_path / "t" / trial.name).streams["phone"]
    assert phone.quat_wxyz is not None and phone.num_samples > 12_000
    w, x, y, z = phone.quat_wxyz.T
    up = np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], 1)
    vertical = np.sum(up * phone.acc_mps2, 1)  # docs' self-check: R(q) acc has +g on Z
    assert abs(np.mean(vertical) - G) < 0.3
