"""Model registry: ``create_model(name, **overrides)``; one file per family."""

from edgesdk.models import (  # noqa: F401  (register their variants)
    baselines,
    ego4o,
    head2body,
    hmdposer,
    imuposer,
    mobileposer,
    motiongrpo,
    pip,
    same,
    students,
)
from edgesdk.models.registry import (
    Pair,
    create_model,
    list_models,
    model_family,
    model_info,
    register_model,
    teacher_student_pairs,
)

__all__ = [
    "Pair",
    "create_model",
    "list_models",
    "model_family",
    "model_info",
    "register_model",
    "teacher_student_pairs",
]
