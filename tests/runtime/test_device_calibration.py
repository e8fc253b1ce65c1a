"""Calibration recovers a known mount and heading from a simulated N-pose stand-still, finds
the stand-still on its own, and re-calibrates when a heading drifts."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from edgesdk.body.rotations_numpy import (
    angle_between,
    matrix_to_quat,
    mean_quat,
    quat_from_axis_angle,
    quat_to_matrix,
    rot_z,
)
from edgesdk.data.clip import Clip
from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.kinematics import tpose_clip
from edgesdk.data.mounts import R_devworld_yup, nominal_mount
from edgesdk.data.simulate import simulate_take
from edgesdk.data.takes import Take
from edgesdk.runtime.device_calibration import Calibration, solve
from edgesdk.runtime.npose import sensor_up_in_npose
from edgesdk.runtime.scenario import session_clip
from tests.runtime.common import push_take, recording_session

CASES = [  # kind, slot, heading (deg), tilt axis in the sensor frame, tilt (deg)
    ("glasses", "head", 131.0, (1.0, 0.0, 0.0), 8.0),
    ("watch", "left_wrist", -70.0, (0.0, 0.0, 1.0), 25.0),
    ("watch", "right_wrist", 10.0, (0.0, 1.0, 1.0), 15.0),
    ("phone", "right_pocket", 250.0, (0.0, 0.0, 1.0), 180.0),  # upside down in the pocket
    ("phone", "left_pocket", 45.0, (1.0, 0.0, -1.0), 30.0),
]


def _mount(kind: str, slot: str, axis: tuple[float, ...], deg: float) -> np.ndarray:
    """The nominal mount turned about a sensor axis (horizontal in the N-pose)."""
    ax = np.array(axis) / np.linalg.norm(axis)
    assert abs(float(ax @ sensor_up_in_npose(kind, slot))) < 1e-9
    return nominal_mount(kind, slot) @ quat_to_matrix(quat_from_axis_angle(ax, math.radians(deg)))


def _still_take(specs: list[DeviceSpec], seconds: float = 3.0, seed: int = 0) -> Take:
    clip = session_clip(tpose_clip(num_frames=10), seconds, still_s=seconds - 0.5, blend_s=0.3)
    return simulate_take(clip, specs, seed=seed)


@pytest.mark.parametrize(("kind", "slot", "heading", "axis", "deg"), CASES)
def test_solve_recovers_mount_and_heading(
    kind: str, slot: str, heading: float, axis: tuple[float, ...], deg: float
) -> None:
    mount = _mount(kind, slot, axis, deg)
    spec = DeviceSpec(
        kind, slot, heading_deg=heading, mount_quat_wxyz=tuple(matrix_to_quat(mount).tolist())
    )  # type: ignore[arg-type]
    stream = _still_take([spec]).streams[spec.device_id]
    cal = Calibration(quat_to_matrix(mean_quat(stream.quat_wxyz[:100])), 0.0, 0)
    A, _ = cal.frames(kind, slot)
    assert math.degrees(angle_between(cal.mount(kind, slot), mount)) < 0.01
    assert math.degrees(angle_between(A, R_devworld_yup(heading).T)) < 0.01


def test_a_mount_turn_about_the_vertical_reads_as_heading() -> None:
    """The documented limit: one stand-still cannot tell these apart."""
    kind, slot = "watch", "left_wrist"
    up = sensor_up_in_npose(kind, slot)
    mount = nominal_mount(kind, slot) @ quat_to_matrix(quat_from_axis_angle(up, 0.2))
    T = nominal_mount(kind, slot)  # the N-pose target, body facing +Z
    from edgesdk.runtime.npose import npose_target

    T = npose_target(kind, slot)
    Q = R_devworld_yup(40.0) @ T @ nominal_mount(kind, slot).T @ mount  # at rest
    A, C = solve(Q, T)
    assert np.allclose(A @ Q @ C, T, atol=1e-12)
    assert np.allclose(C, np.eye(3), atol=1e-12)  # no mount correction ...
    err = angle_between(A, R_devworld_yup(40.0).T)
    assert abs(err - 0.2) < 1e-9  # ... the turn went into the heading


def test_session_finds_the_stand_still_and_calibrates_typical_devices() -> None:
    specs = [
        DeviceSpec.glasses(heading_deg=200.0, mount_quat_wxyz=None, mount_jitter_deg=0.0),
        DeviceSpec.watch(
            "right_wrist",
            heading_deg=33.0,
            mount_jitter_deg=0.0,
            mount_quat_wxyz=tuple(
                matrix_to_quat(_mount("watch", "right_wrist", (0.0, 1.0, 0.0), 12.0)).tolist()
            ),
        ),
        DeviceSpec.phone(
            "left_pocket",
            heading_deg=-120.0,
            mount_jitter_deg=0.0,
            mount_quat_wxyz=tuple(
                matrix_to_quat(_mount("phone", "left_pocket", (1.0, 0.0, 0.0), -20.0)).tolist()
            ),
        ),
    ]
    take = _still_take(specs, seconds=3.0)
    session, _ = recording_session()
    for spec in specs:
        session.add_device(spec.device_id, kind=spec.kind, slot=spec.slot)
    push_take(session, take)
    assert session.stats()["calibrations"] == 3
    for spec in specs:
        dev = session.devices[spec.device_id]
        stream = take.streams[spec.device_id]
        assert dev.calibration is not None
        assert dev.calibration.t_ns < 1.6e9  # found within the first 1.6 s
        true_mount = quat_to_matrix(np.array(stream.mount_quat_wxyz))
        A, _ = dev.calibration.frames(spec.kind, spec.slot)
        assert (
            math.degrees(angle_between(dev.calibration.mount(spec.kind, spec.slot), true_mount))
            < 1.0
        )
        assert math.degrees(angle_between(A, R_devworld_yup(stream.heading_deg).T)) < 1.0


def _there_and_back(clip: Clip) -> Clip:
    """N-pose, walk, walk back the same way into the N-pose (continuous)."""
    scene = session_clip(clip, 5.5, still_s=1.6, blend_s=0.6)
    R = np.concatenate([scene.R_world_joint, scene.R_world_joint[::-1]])
    pos = np.concatenate([scene.global_pos_m, scene.global_pos_m[::-1]])
    return scene.replace(R_world_joint=R, global_pos_m=pos)


def _drifted(take: Take, device_id: str, deg: float, start_s: float, stop_s: float) -> Take:
    """``device_id``'s fused heading drifting by ``deg`` between two true times."""
    s = take.streams[device_id]
    t = (s.t_ns - s.t_ns[0]) / 1e9
    angle = np.radians(deg) * np.clip((t - start_s) / (stop_s - start_s), 0.0, 1.0)
    quat = np.stack(
        [
            matrix_to_quat(rot_z(a) @ quat_to_matrix(q))
            for a, q in zip(angle, s.quat_wxyz, strict=True)
        ]
    )
    streams = dict(take.streams)
    streams[device_id] = dataclasses.replace(s, quat_wxyz=quat)
    return dataclasses.replace(take, streams=streams)


def test_heading_drift_is_detected_and_recalibrated(walk: Clip) -> None:
    clip = _there_and_back(walk)
    specs = [
        DeviceSpec(k, s, heading_deg=h)
        for k, s, h in (
            ("glasses", "head", 10.0),
            ("watch", "left_wrist", 99.0),
            ("phone", "right_pocket", 300.0),
        )
    ]
    take = simulate_take(clip, specs, seed=0)
    drifted = _drifted(take, "phone_right_pocket", 20.0, 3.0, 7.0)
    runs = {}
    for name, t in (("clean", take), ("drifted", drifted)):
        session, backend = recording_session()
        for spec in specs:
            session.add_device(spec.device_id, kind=spec.kind, slot=spec.slot)
        push_take(session, t)
        runs[name] = (session, backend)
    clean, drift = runs["clean"][0], runs["drifted"][0]
    assert clean.stats()["recalibrations"] == 0
    assert drift.stats()["recalibrations"] >= 1
    # After the second stand-still the drifted phone's orientation input is right again.
    imu_clean, imu_drift = (np.stack([f["imu"][0, 4] for f in runs[n][1].seen]) for n in runs)
    end = slice(-10, None)
    assert np.abs(imu_clean[end, 3:] - imu_drift[end, 3:]).max() < 0.02
    mid = len(imu_clean) // 2 + 45  # walking back, drifted and not yet re-calibrated
    assert np.abs(imu_clean[mid, 3:] - imu_drift[mid, 3:]).max() > 0.1
