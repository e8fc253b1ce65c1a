"""Virtual devices: kinematics against the clip, conventions, clocks, noise, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from edgesdk.body.fk import forward_kinematics
from edgesdk.body.rotations import axis_angle_to_matrix
from edgesdk.body.rotations_numpy import R_ZUP_YUP
from edgesdk.body.skeleton import template_offsets
from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.kinematics import tpose_clip, virtual_imu
from edgesdk.data.mounts import GRAVITY_MPS2, KINDS, SLOT_MOUNTS, R_devworld_yup, slot_mount
from edgesdk.data.simulate import simulate_device, simulate_head_pose, simulate_take
from edgesdk.data.slots import SLOTS
from edgesdk.errors import EdgeSDKError

PAIRS = sorted(SLOT_MOUNTS)  # every (kind, slot) a device can sit in
MOCAP = Path(__file__).resolve().parents[3] / "shared" / "data" / "mocap"


def moving_clip(duration_s: float = 4.0, fps: float = 120.0, seed: int = 0) -> Clip:
    """FK of the template body with smooth sinusoidal joint rotations, a turning, walking root."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * fps)) / fps
    amp = rng.uniform(0.1, 0.4, (22, 3))
    freq = rng.uniform(0.2, 0.8, (22, 3))
    phase = rng.uniform(0.0, 2 * np.pi, (22, 3))
    aa = amp * np.sin(2 * np.pi * freq * t[:, None, None] + phase)
    aa[:, 0] = 0.0
    aa[:, 0, 1] = 0.4 * t + 0.3 * np.sin(t)
    root = np.stack([0.5 * np.sin(0.5 * t), 0.95 + 0.03 * np.sin(4 * t), 0.6 * t], 1)
    offsets = template_offsets()
    R, pos = forward_kinematics(
        axis_angle_to_matrix(torch.from_numpy(aa)), offsets.double(), torch.from_numpy(root)
    )
    return Clip("moving", fps, R.float().numpy(), pos.float().numpy(), offsets.numpy())


def static_clip(seed: int, num_frames: int = 20, fps: float = 30.0) -> Clip:
    """A random pose held still."""
    rng = np.random.default_rng(seed)
    aa = rng.normal(0.0, 0.6, (22, 3))
    offsets = template_offsets()
    R, pos = forward_kinematics(
        axis_angle_to_matrix(torch.from_numpy(aa)),
        offsets.double(),
        torch.zeros(3, dtype=torch.float64),
    )
    R_all = np.repeat(R.float().numpy()[None], num_frames, 0)
    pos_all = np.repeat(pos.float().numpy()[None], num_frames, 0)
    return Clip("static", fps, R_all, pos_all, offsets.numpy())


def matrices(quat_wxyz: np.ndarray) -> np.ndarray:
    return Rotation.from_quat(quat_wxyz, scalar_first=True).as_matrix()


def angle_rad(R_a: np.ndarray, R_b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(Rotation.from_matrix(np.swapaxes(R_a, -1, -2) @ R_b).as_rotvec(), axis=-1)


@pytest.fixture(scope="module")
def clip() -> Clip:
    return moving_clip()


# --- layout and frames ---------------------------------------------------------------------


def test_slots_bones_and_mounts() -> None:
    assert SLOTS == ("head", "left_wrist", "right_wrist", "left_pocket", "right_pocket")
    bones = {slot: slot_mount(kind, slot).bone_name for kind, slot in PAIRS}
    assert bones == {"head": "head", "left_wrist": "left_elbow", "right_wrist": "right_elbow",
                     "left_pocket": "left_hip", "right_pocket": "right_hip"}  # fmt: skip
    assert slot_mount("watch", "left_wrist").end_joint == 20
    for mount in SLOT_MOUNTS.values():
        R = np.array(mount.R_bone_sensor)
        assert np.allclose(R @ R.T, np.eye(3)) and np.isclose(np.linalg.det(R), 1.0)
    with pytest.raises(EdgeSDKError, match="cannot sit"):
        slot_mount("watch", "head")
    with pytest.raises(EdgeSDKError, match="unknown slot"):
        DeviceSpec("phone", "back_pocket")


def test_world_map_is_zup_and_right_handed() -> None:
    assert np.isclose(np.linalg.det(R_ZUP_YUP), 1.0)
    assert np.allclose(R_ZUP_YUP @ [1.0, 2.0, 3.0], [1.0, -3.0, 2.0])
    R = R_devworld_yup(90.0)
    assert np.allclose(R @ [0.0, 1.0, 0.0], [0.0, 0.0, 1.0])  # up stays up at any heading
    assert np.allclose(R @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])  # heading turns about +Z


# --- (c) at rest ---------------------------------------------------------------------------


def test_tpose_reads_plus_g_on_the_up_axis() -> None:
    still = tpose_clip(num_frames=30)
    up_axis = {"glasses": 1, "earbuds": 1, "watch": 2, "phone": 1}  # Y up, screen up, top up
    for kind, slot in PAIRS:
        s = simulate_device(still, DeviceSpec(kind, slot, heading_deg=123.0), seed=0)
        expected = np.zeros(3)
        expected[up_axis[kind]] = GRAVITY_MPS2
        assert np.allclose(s.acc_mps2, expected, atol=1e-9), (kind, slot)
        assert np.allclose(s.user_acc_mps2, 0.0, atol=1e-9)
        assert np.allclose(s.gyro_rads, 0.0, atol=1e-9)


@settings(max_examples=15, deadline=None)
@given(
    pose_seed=st.integers(0, 10_000),
    pair=st.sampled_from(PAIRS),
    heading=st.floats(-720.0, 720.0),
    mount=st.lists(st.floats(-1.0, 1.0), min_size=4, max_size=4).filter(
        lambda q: float(np.linalg.norm(q)) > 0.1
    ),
)
def test_any_still_pose_reads_gravity_only(pose_seed, pair, heading, mount) -> None:
    still = static_clip(pose_seed)
    spec = DeviceSpec(pair[0], pair[1], heading_deg=heading, mount_quat_wxyz=tuple(mount))
    s = simulate_device(still, spec, seed=1)
    R = matrices(s.quat_wxyz)
    assert np.allclose(s.acc_mps2, R[:, 2, :] * GRAVITY_MPS2, atol=1e-9)  # R^T (0, 0, g)
    assert np.allclose(np.linalg.norm(s.acc_mps2, axis=1), GRAVITY_MPS2)
    assert np.allclose(s.user_acc_mps2, 0.0, atol=1e-9)
    assert np.allclose(s.gyro_rads, 0.0, atol=1e-9)


# --- (a) acceleration integrates to velocity, (b) orientation, (f) gyro ----------------------


@pytest.mark.parametrize(("kind", "slot"), [("watch", "left_wrist"), ("phone", "right_pocket"),
                                            ("glasses", "head")])  # fmt: skip
def test_user_acc_integrates_to_sensor_point_velocity(clip: Clip, kind: str, slot: str) -> None:
    heading, offset_s = 37.0, 12.5
    s = simulate_device(clip, DeviceSpec(kind, slot, heading_deg=heading, clock_offset_s=offset_s))
    t_s = (s.t_ns - round(offset_s * 1e9)) / 1e9
    acc_world = np.einsum("nij,nj->ni", matrices(s.quat_wxyz), s.user_acc_mps2)
    vel = np.concatenate(
        [
            np.zeros((1, 3)),
            np.cumsum(0.5 * (acc_world[1:] + acc_world[:-1]) * np.diff(t_s)[:, None], 0),
        ]
    )
    # Reference: central differences of the sensor point over the clip's frames (120 fps),
    # compared every 0.1 s where device samples and frames coincide, from 0.5 s after the
    # start to 0.5 s before the end (the mocap low-pass bends the first and last 0.1 s).
    mount = slot_mount(kind, slot)
    R_bone = clip.R_world_joint[:, mount.bone_joint].astype(np.float64)
    lever_m = mount.lever_arm_m(clip.offsets_m)
    pos_m = clip.global_pos_m[:, mount.bone_joint].astype(np.float64) + R_bone @ lever_m
    vel_ref = np.gradient(pos_m, 1.0 / clip.fps, axis=0) @ R_devworld_yup(heading).T
    step = round(s.spec.sample_rate_hz / 10)
    samples = np.arange(5 * step, len(t_s) - 5 * step, step)
    frames = np.rint(t_s[samples] * clip.fps).astype(int)
    vel = vel[samples] - vel[samples[0]] + vel_ref[frames[0]]
    err = np.abs(vel - vel_ref[frames]).max()
    assert np.linalg.norm(vel_ref, axis=1).max() > 0.5  # the motion is not trivial
    assert err < 0.005, f"velocity error {err:.4f} m/s over {t_s[-1]:.1f} s"


@pytest.mark.parametrize("mount_seed", [0, 1])
def test_orientation_is_bone_times_mount_in_device_world(clip: Clip, mount_seed: int) -> None:
    mount_q = tuple(Rotation.random(random_state=mount_seed).as_quat(scalar_first=True))
    spec = DeviceSpec("watch", "right_wrist", heading_deg=-70.0, mount_quat_wxyz=mount_q)
    exact = simulate_device(clip, spec, seed=5, lowpass_hz=None)
    samples = np.arange(0, exact.num_samples, 5)  # watch 50 Hz, clip 120 fps: every 0.1 s
    frames = samples * 12 // 5
    R_bone = clip.R_world_joint[frames, 19].astype(np.float64)
    R_expected = R_devworld_yup(-70.0) @ R_bone @ matrices(np.array(mount_q))
    assert angle_rad(matrices(exact.quat_wxyz[samples]), R_expected).max() < 1e-6
    # The default mocap low-pass leaves this slow motion alone, apart from the clip's ends.
    filtered = matrices(simulate_device(clip, spec, seed=5).quat_wxyz[samples])
    assert angle_rad(filtered[3:-3], R_expected[3:-3]).max() < 1e-5
    assert angle_rad(filtered, R_expected).max() < 2e-3


def test_mount_jitter_is_recorded_ground_truth(clip: Clip) -> None:
    spec = DeviceSpec("phone", "left_pocket", mount_jitter_deg=8.0)
    s = simulate_device(clip, spec, seed=3)
    nominal = np.array(slot_mount("phone", "left_pocket").R_bone_sensor)
    realized = matrices(np.array(s.mount_quat_wxyz))
    assert 0.005 < angle_rad(nominal, realized) < np.radians(40.0)
    R_expected = R_devworld_yup(0.0) @ clip.R_world_joint[240, 1].astype(np.float64) @ realized
    assert angle_rad(matrices(s.quat_wxyz[200]), R_expected) < 1e-5  # t = 2 s


def test_gyro_integrates_to_orientation_change(clip: Clip) -> None:
    s = simulate_device(clip, DeviceSpec("glasses", "head", heading_deg=10.0), seed=0)
    R = matrices(s.quat_wxyz)
    dt = 1.0 / s.spec.sample_rate_hz
    for start in (0, 200, 500):
        R_k = R[start]
        for k in range(start, start + 200):  # one second
            R_k = (
                R_k
                @ Rotation.from_rotvec(0.5 * (s.gyro_rads[k] + s.gyro_rads[k + 1]) * dt).as_matrix()
            )
        total = angle_rad(R[start], R[start + 200])
        assert total > 0.2
        assert angle_rad(R_k, R[start + 200]) < 1e-3


def test_virtual_imu_agrees_with_the_device() -> None:
    # Its speed is measured by benchmarks/data_speed.py, not asserted here.
    clip = moving_clip(duration_s=60.0, fps=60.0, seed=2)
    for slot in SLOTS:
        imu = virtual_imu(clip, slot)
        assert imu["acc_world_mps2"].shape == (3600, 3) and imu["R_world_sensor"].shape == (
            3600,
            3,
            3,
        )
    imu = virtual_imu(clip, "left_wrist")
    s = simulate_device(clip, DeviceSpec("watch", "left_wrist", rate_hz=60.0))
    R_map = R_devworld_yup(0.0)
    assert np.allclose(R_map @ imu["R_world_sensor"], matrices(s.quat_wxyz), atol=1e-9)
    acc_world = np.einsum("nij,nj->ni", matrices(s.quat_wxyz), s.user_acc_mps2)
    assert np.allclose(acc_world, imu["acc_world_mps2"] @ R_map.T, atol=1e-8)
    assert np.allclose(s.gyro_rads, imu["gyro_rads"], atol=1e-9)


# --- (d) clocks and drops --------------------------------------------------------------------


def test_rate_offset_jitter_and_drift() -> None:
    still = tpose_clip(num_frames=601, fps=10.0)  # 60 s
    spec = DeviceSpec("watch", "left_wrist", clock_offset_s=4321.5, jitter_std_s=0.002)
    s = simulate_device(still, spec, seed=0)
    assert s.num_samples == 3001 and s.t_ns.dtype == np.int64
    residual_s = s.t_ns / 1e9 - 4321.5 - np.arange(s.num_samples) / 50.0
    assert abs(residual_s.mean()) < 3 * 0.002 / np.sqrt(s.num_samples)
    assert 0.0019 < residual_s.std() < 0.0021
    drifting = simulate_device(still, DeviceSpec("phone", "left_pocket", clock_drift_ppm=50.0))
    slope_s = np.polyfit(np.arange(drifting.num_samples), drifting.t_ns / 1e9, 1)[0]
    assert np.isclose(slope_s, (1 + 50e-6) / 100.0, rtol=1e-9)
    assert DeviceSpec.glasses().rate_hz == 200.0 and DeviceSpec.earbuds().rate_hz == 100.0


@pytest.mark.parametrize(("prob", "burst"), [(0.1, 1.0), (0.05, 4.0), (0.3, 2.0)])
def test_drop_fraction_and_burst_length(prob: float, burst: float) -> None:
    still = tpose_clip(num_frames=2001, fps=10.0)  # 200 s at 100 Hz: 20001 samples
    s = simulate_device(still, DeviceSpec("phone", "right_pocket", drop_prob=prob,
                                          drop_burst_len=burst), seed=4)  # fmt: skip
    expected = 20001
    kept = np.rint(s.t_ns / 1e7).astype(int)  # sample indices that survived
    dropped = expected - s.num_samples
    sigma = np.sqrt(expected * prob * (1 - prob) * (2 * burst))  # bursts inflate the variance
    assert abs(dropped - prob * expected) < 4 * sigma
    gaps = np.diff(kept) - 1
    bursts = gaps[gaps > 0]
    assert abs(bursts.mean() - burst) < 0.15 * burst


# --- (e) determinism ------------------------------------------------------------------------


def test_determinism_per_seed(clip: Clip) -> None:
    specs = [DeviceSpec.glasses(), DeviceSpec.watch("right_wrist"), DeviceSpec.phone()]
    a, b = simulate_take(clip, specs, seed=11), simulate_take(clip, specs, seed=11)
    c = simulate_take(clip, specs, seed=12)
    for key, stream in a.streams.items():
        for name in ("t_ns", "acc_mps2", "user_acc_mps2", "gyro_rads", "quat_wxyz"):
            assert np.array_equal(getattr(stream, name), getattr(b.streams[key], name))
        assert not np.array_equal(stream.acc_mps2[:50], c.streams[key].acc_mps2[:50])
        alone = simulate_device(clip, stream.spec, seed=11)  # other devices change nothing
        assert np.array_equal(alone.gyro_rads, stream.gyro_rads)
        assert 0.0 <= stream.heading_deg < 360.0 and 1.0 <= stream.clock_offset_s < 10_000.0
    assert a.head_pose is not None and b.head_pose is not None
    assert np.array_equal(a.head_pose.pos_m, b.head_pose.pos_m)
    with pytest.raises(EdgeSDKError, match="same kind and slot"):
        simulate_take(clip, [DeviceSpec.watch(), DeviceSpec.watch()], seed=0)


# --- (g) noise and bias ---------------------------------------------------------------------


def test_bias_random_walk_grows_like_sqrt_t() -> None:
    still = tpose_clip(num_frames=1001, fps=10.0)  # 100 s
    rw_acc, rw_gyro = 0.02, 0.002
    spec = DeviceSpec("phone", "left_pocket", rate_hz=20.0, acc_bias_rw=rw_acc,
                      gyro_bias_rw=rw_gyro, acc_bias_mps2=(0.1, -0.2, 0.3))  # fmt: skip
    at = {25.0: 500, 100.0: 2000}
    acc_dev = {t: [] for t in at}
    gyro_dev = {t: [] for t in at}
    for seed in range(40):
        s = simulate_device(still, spec, seed=seed)
        assert np.allclose(s.acc_mps2[0], [0.1, GRAVITY_MPS2 - 0.2, 0.3])  # starts at the bias
        for t, k in at.items():
            acc_dev[t].append(s.acc_mps2[k] - s.acc_mps2[0])
            gyro_dev[t].append(s.gyro_rads[k] - s.gyro_rads[0])
    for t in at:
        assert 0.6 < np.var(acc_dev[t]) / (rw_acc**2 * t) < 1.5
        assert 0.6 < np.var(gyro_dev[t]) / (rw_gyro**2 * t) < 1.5
    assert 2.5 < np.var(acc_dev[100.0]) / np.var(acc_dev[25.0]) < 6.5


def test_white_noise_levels() -> None:
    still = tpose_clip(num_frames=301, fps=10.0)
    spec = DeviceSpec("watch", "left_wrist", acc_noise_std_mps2=0.05, gyro_noise_std_rads=0.01,
                      quat_noise_std_deg=0.5)  # fmt: skip
    s = simulate_device(still, spec, seed=0)
    clean = simulate_device(still, spec.ideal(), seed=0)
    assert np.isclose((s.acc_mps2 - clean.acc_mps2).std(), 0.05, rtol=0.05)
    assert np.isclose((s.gyro_rads - clean.gyro_rads).std(), 0.01, rtol=0.05)
    tilt = angle_rad(matrices(s.quat_wxyz), matrices(clean.quat_wxyz))
    assert np.isclose(np.sqrt(np.mean(tilt**2)), np.radians(0.5) * np.sqrt(3), rtol=0.1)
    # user_acc is acc minus gravity as the (noisy) fused orientation sees it, like CoreMotion.
    assert np.allclose(s.user_acc_mps2, s.acc_mps2 - matrices(s.quat_wxyz)[:, 2] * GRAVITY_MPS2)


# --- glasses head pose -----------------------------------------------------------------------


def test_head_pose_without_and_with_drift(clip: Clip) -> None:
    spec = DeviceSpec("glasses", "head", heading_deg=200.0, clock_offset_s=3.0)
    pose = simulate_head_pose(clip, spec, seed=0)
    imu = simulate_device(clip, spec, seed=0)
    assert pose.rate_hz == 30.0
    assert pose.t_ns[:3].tolist() == [3_000_000_000 + round(k * 1e9 / 30) for k in range(3)]
    frames = np.arange(len(pose.t_ns)) * 4  # 30 Hz pose, 120 fps clip
    pos_ref = virtual_imu(clip, "head", "glasses")["pos_m"][frames] @ R_devworld_yup(200.0).T
    assert np.abs(pose.pos_m - pos_ref).max() < 1e-6
    assert pose.pos_m[:, 2].min() > 1.3  # glasses are above the floor in the Z-up world
    in_imu, in_pose = np.isin(imu.t_ns, pose.t_ns), np.isin(pose.t_ns, imu.t_ns)
    assert in_imu.sum() == in_pose.sum() >= 30  # every 0.1 s
    R_imu, R_pose = matrices(imu.quat_wxyz[in_imu]), matrices(pose.quat_wxyz[in_pose])
    assert angle_rad(R_imu, R_pose).max() < 1e-6
    noisy = simulate_head_pose(
        clip, DeviceSpec("glasses", "head", heading_deg=200.0, slam_pos_rw_m=0.05,
                         slam_yaw_rw_deg=2.0), seed=0)  # fmt: skip
    err = np.linalg.norm(noisy.pos_m - pose.pos_m, axis=1)
    assert err[0] < 1e-9 < err[-1]
    with pytest.raises(EdgeSDKError, match="only glasses"):
        simulate_head_pose(clip, DeviceSpec.earbuds(), seed=0)


# --- specs ----------------------------------------------------------------------------------


def test_spec_helpers_validation_and_dict_round_trip() -> None:
    for kind in KINDS:
        spec = getattr(DeviceSpec, kind)()
        assert spec.kind == kind and spec.acc_noise_std_mps2 > 0 and spec.heading_deg is None
        assert DeviceSpec.from_dict(spec.to_dict()) == spec
        ideal = spec.ideal()
        assert ideal.acc_noise_std_mps2 == 0 and ideal.drop_prob == 0 and ideal.jitter_std_s == 0
    for bad in ({"drop_prob": 1.0}, {"rate_hz": 0.0}, {"acc_noise_std_mps2": -1.0},
                {"lever_arm_m": (0.0, 1.0)}, {"heading_deg": float("nan")}):  # fmt: skip
        with pytest.raises(EdgeSDKError):
            DeviceSpec("watch", "left_wrist", **bad)
    with pytest.raises(EdgeSDKError, match="unknown device spec fields"):
        DeviceSpec.from_dict({"kind": "watch", "slot": "left_wrist", "colour": "red"})
    with pytest.raises(EdgeSDKError, match="seed"):
        simulate_device(tpose_clip(), DeviceSpec.watch(), seed=-1)
    with pytest.raises(EdgeSDKError, match=">= 2 frames"):
        virtual_imu(tpose_clip(num_frames=1), "head")


# --- real motion capture --------------------------------------------------------------------


def test_real_bvh_clips_if_available() -> None:
    bvh = pytest.importorskip("edgesdk.data.bvh")
    if not hasattr(bvh, "load_clip") or not (MOCAP / "cmu" / "002_01.bvh").is_file():
        pytest.skip("edgesdk.data.bvh.load_clip or the shared CMU clips are not available")
    specs = [DeviceSpec.glasses(), DeviceSpec.watch(), DeviceSpec.phone()]
    walk = simulate_take(bvh.load_clip(MOCAP / "cmu" / "002_01.bvh"), specs, seed=0)
    # Walking: specific force stays near 1 g; without the mocap low-pass it would be 2-5 g.
    for key, (low, high) in {"glasses_head": (9.0, 11.0), "watch_left_wrist": (9.0, 13.0),
                             "phone_right_pocket": (9.0, 12.0)}.items():  # fmt: skip
        assert low < np.median(np.linalg.norm(walk.streams[key].acc_mps2, axis=1)) < high
    run = simulate_take(bvh.load_clip(MOCAP / "cmu" / "002_03.bvh"), specs, seed=0)
    for stream in run.streams.values():
        assert np.isfinite(stream.acc_mps2).all() and np.isfinite(stream.quat_wxyz).all()
        assert np.allclose(np.linalg.norm(stream.quat_wxyz, axis=1), 1.0)
