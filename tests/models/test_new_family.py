"""Adding a model family is one model file plus its registration: a teacher and its student
defined in a module outside the package (the file a new family would add; importing it is
its registration, the line ``edgesdk/models/__init__.py`` would get) appear in the registry's
queries, train through the trainer and the distiller, and are picked up by every code path
that lists families, with no other file edited.

It runs in a fresh interpreter so that the registry of this test session stays as shipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from edgesdk.data.sources import bundled_data_dir

REPO = Path(__file__).resolve().parents[2]

MODEL_FILE = '''
"""toyfam: a per-frame linear teacher on the head's 6DoF pose and its streaming student."""

from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from edgesdk.body.skeleton import NUM_JOINTS
from edgesdk.models.base import (
    ModelSpec, MotionModel, TensorSpec, pose_outputs, target_positions_rel,
)
from edgesdk.models.registry import build_config, register_model
from edgesdk.models.students import MotionGRPOStudent
from edgesdk.models.students_core import StudentConfig


@dataclass(frozen=True)
class ToyConfig:
    name: str = "toyfam-small"
    hidden: int = 16


class ToyTeacher(MotionModel):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        head = TensorSpec("head", ("batch", "time", 9), units="m, 6D")
        self.spec = ModelSpec(inputs=(head,), outputs=pose_outputs(), slots=("head",))
        self.net = nn.Sequential(
            nn.Linear(9, config.hidden), nn.GELU(), nn.Linear(config.hidden, NUM_JOINTS * 9)
        )

    def forward(self, head: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net(head).unflatten(-1, (NUM_JOINTS, 9))
        return out[..., :6], out[..., 6:]

    def loss(self, batch: dict[str, Any], stage: str) -> tuple[Tensor, dict[str, float]]:
        rot6d, pos = self(batch["head"])
        loss = F.mse_loss(rot6d, batch["R_world_joint_6d"])
        loss = loss + F.mse_loss(pos, target_positions_rel(batch))
        return loss, {}

    def predict(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        rot6d, pos = self(batch["head"])
        return {"R_world_joint_6d": rot6d, "pos_rel_m": pos}


@register_model(role="teacher", scale="small", streaming=False)
def toyfam_small(**overrides: Any) -> ToyTeacher:
    return ToyTeacher(build_config(ToyConfig(), overrides))


@register_model(role="student", scale="small", streaming=True, teacher="toyfam")
def toyfam_student(**overrides: Any) -> MotionGRPOStudent:
    config = StudentConfig(name="toyfam-student", hidden=16, layers=1)
    return MotionGRPOStudent(build_config(config, overrides))
'''

CHECK = """
import sys
from pathlib import Path

import toyfam  # its registration

from edgesdk.models import Pair, list_models, model_info, teacher_student_pairs

# the registry's queries
assert list_models(role="teacher", scale="small", family="toyfam") == ["toyfam-small"]
assert list_models(role="student", teacher="toyfam") == ["toyfam-student"]
assert model_info("toyfam-student").streaming is True
pair = Pair("toyfam", "toyfam-small", "", "toyfam-student", ())
assert pair in teacher_student_pairs(), teacher_student_pairs()

# the code paths that list families
from edgesdk.pipeline import default_families
from edgesdk.train.distill import students

assert default_families()[0] == "same" and "toyfam" in default_families()
assert "toyfam-student" in students()
sys.path.insert(0, str(Path(sys.argv[1]) / "benchmarks"))
import bench, peers, tables, teachers
import students as student_bench

assert "toyfam-small" in bench.TEACHERS
assert student_bench.PAIRS["toyfam"] == ("toyfam-small", "", "toyfam-student")
assert "toyfam-student" in peers.STUDENTS and "toyfam-student" in tables.STUDENTS
assert "toyfam-small" in teachers.COST_MODELS

# one training step of the teacher, one distillation step of the student
from edgesdk.train import checkpoint
from edgesdk.train.config import DistillConfig, TrainConfig
from edgesdk.train.distill import distill
from edgesdk.train.trainer import train

data, out = sys.argv[2], Path(sys.argv[3])
run = dict(data=data, epochs=1, max_batches=1, batch_size=4, progress=False)
teacher = train(TrainConfig(model="toyfam-small", out=str(out / "teacher"), **run))
student = distill(
    DistillConfig(teacher=str(teacher), student="toyfam-student", out=str(out / "s"), **run)
)
for ckpt, name in ((teacher, "toyfam-small"), (student, "toyfam-student")):
    meta = checkpoint.read_meta(ckpt)
    assert meta["model"] == name and len(meta["train"]["history"]) == 1, meta["train"]
    assert checkpoint.load(ckpt).config.name == name
print("ok")
"""


def test_a_family_in_one_file_is_registered_trained_and_listed(tmp_path: Path) -> None:
    (tmp_path / "toyfam.py").write_text(textwrap.dedent(MODEL_FILE))
    (tmp_path / "check.py").write_text(textwrap.dedent(CHECK))
    env_path = f"{tmp_path}:{REPO}"
    proc = subprocess.run(
        [
            sys.executable,
            str(tmp_path / "check.py"),
            str(REPO),
            str(bundled_data_dir()),
            str(tmp_path / "runs"),
        ],
        env={**os.environ, "PYTHONPATH": env_path, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
