"""Synthetic batches in the exact layout of collated ``WindowDataset`` items.

Model tests use these so they run in milliseconds; training on real windows is tested in
tests/train.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from edgesdk.body.rotations import axis_angle_to_matrix, matrix_to_6d

HEAD_HR_FACTOR = 8
TEXT_DIM = 384


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Model tests use tiny tensors: on a shared 2-core machine a second intra-op thread only
    adds contention (a 64-channel conv of 32 frames went from ~1 ms to ~100 ms)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_batch(batch: int = 2, time: int = 32, seed: int = 0) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    R = axis_angle_to_matrix(0.5 * torch.randn(batch, time, 22, 3, generator=g))
    pos = torch.randn(batch, time, 22, 3, generator=g) * 0.3
    pos[..., 1] += 1.0
    sensor_R = axis_angle_to_matrix(0.5 * torch.randn(batch, time, 5, 3, generator=g))
    imu = torch.cat([torch.randn(batch, time, 5, 3, generator=g), matrix_to_6d(sensor_R)], -1)
    mask = torch.zeros(batch, time, 5)
    mask[:, :, 0] = 1.0
    mask[0, : time // 2, 1] = 1.0
    mask[-1, :, 3] = 1.0
    imu = imu * mask[..., None]
    head_R = matrix_to_6d(R[:, :, 15])
    head_hr = torch.randn(batch, time * HEAD_HR_FACTOR, 12, generator=g)
    return {
        "imu": imu,
        "mask": mask,
        "head": torch.cat([pos[:, :, 15], head_R], -1),
        "head_imu_hr": head_hr,
        "text_emb": torch.randn(batch, TEXT_DIM, generator=g),
        "text_mask": torch.tensor([1.0] + [0.0] * (batch - 1)),
        "text": ["walk active"] + [""] * (batch - 1),
        "R_world_joint_6d": matrix_to_6d(R),
        "R_local_6d": matrix_to_6d(R),
        "pos_m": pos,
        "root_vel_mps": torch.randn(batch, time, 3, generator=g),
        "contact": (torch.rand(batch, time, 2, generator=g) > 0.5).float(),
        "clip": ["a"] * batch,
    }


@pytest.fixture
def batch() -> dict[str, Any]:
    return make_batch()
