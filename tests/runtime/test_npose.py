"""The runtime's copy of the mounts and the N-pose agree with the simulator."""

from __future__ import annotations

import numpy as np

from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.kinematics import tpose_clip
from edgesdk.data.mounts import NOMINAL_MOUNT, SLOT_BONE, SLOT_MOUNTS
from edgesdk.data.simulate import simulate_device
from edgesdk.runtime.npose import sensor_up_in_npose
from edgesdk.runtime.scenario import npose_rotations, session_clip


def test_nominal_mounts_and_bones_match_the_simulator() -> None:
    assert set(NOMINAL_MOUNT) == set(SLOT_MOUNTS)
    for key, mount in SLOT_MOUNTS.items():
        assert np.array_equal(NOMINAL_MOUNT[key], np.array(mount.R_bone_sensor))
        assert SLOT_BONE[key[1]] == mount.bone_joint


def test_a_device_at_rest_in_the_npose_reads_gravity_where_the_runtime_expects() -> None:
    clip = session_clip(tpose_clip(num_frames=10), duration_s=2.0, still_s=1.5, blend_s=0.2)
    assert np.allclose(clip.R_world_joint[0], npose_rotations(), atol=1e-6)
    for kind, slot in SLOT_MOUNTS:
        stream = simulate_device(clip, DeviceSpec(kind, slot), seed=0)
        acc = stream.acc_mps2[:20].mean(0)
        assert np.allclose(acc / np.linalg.norm(acc), sensor_up_in_npose(kind, slot), atol=1e-3)
