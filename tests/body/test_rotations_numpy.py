"""The runtime's numpy rotations agree with the torch ones of ``edgesdk.body.rotations``."""

from __future__ import annotations

import numpy as np
import torch

from edgesdk.body import rotations as T
from edgesdk.body import rotations_numpy as R


def _quats(n: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def test_matrix_quat_and_6d_match_torch() -> None:
    q = _quats(64)
    mat = R.quat_to_matrix(q)
    assert np.allclose(mat, T.quat_to_matrix(torch.from_numpy(q)).numpy(), atol=1e-12)
    back = R.matrix_to_quat(mat)
    assert np.allclose(np.abs(np.sum(back * q, 1)), 1.0, atol=1e-12)
    assert (back[:, 0] >= 0).all()
    assert np.allclose(R.to_6d(mat), T.matrix_to_6d(torch.from_numpy(mat)).numpy())
    assert np.allclose(R.from_6d(R.to_6d(mat)), mat, atol=1e-12)


def test_plain_python_hot_path_matches_numpy() -> None:
    q, p = _quats(16, 1), _quats(16, 2)
    v = np.random.default_rng(3).normal(size=(16, 3))
    for a, b, x in zip(q, p, v, strict=True):
        ta, tb = tuple(a.tolist()), tuple(b.tolist())
        assert np.allclose(R.qmul(ta, tb), R.quat_mul(a, b))
        assert np.allclose(R.qrotate(ta, tuple(x.tolist())), R.quat_to_matrix(a) @ x)
        assert np.allclose(R.quat_6d(ta), R.to_6d(R.quat_to_matrix(a)))
        for t in (0.0, 0.3, 1.0):
            assert np.allclose(
                R.slerp_scalar(ta, tb, t),
                R.slerp(a, b, t) * np.sign(np.dot(R.slerp_scalar(ta, tb, t), R.slerp(a, b, t))),
            )


def test_slerp_is_constant_speed_on_the_short_arc() -> None:
    q0 = np.array([1.0, 0.0, 0.0, 0.0])
    q1 = R.quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), 1.2)
    for t in (0.25, 0.5, 0.75):
        expected = R.quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), 1.2 * t)
        assert np.allclose(R.slerp(q0, q1, t), expected, atol=1e-12)
        assert np.allclose(R.slerp(q0, -q1, t), expected, atol=1e-12)  # q and -q: same arc
        assert np.allclose(R.slerp_scalar(tuple(q0), tuple(-q1), t), expected, atol=1e-12)


def test_yaw_and_frames() -> None:
    assert abs(R.yaw_of(R.rot_y(0.7)) - 0.7) < 1e-12
    assert np.allclose(R.R_YUP_ZUP @ np.array([0.0, 0.0, 1.0]), [0.0, 1.0, 0.0])
    assert abs(R.wrap(3 * np.pi) - np.pi) < 1e-12
    assert abs(R.angle_between(np.eye(3), R.rot_z(0.4)) - 0.4) < 1e-12
