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
    create_model,
    list_models,
    model_family,
    model_info,
    register_model,
)

__all__ = ["create_model", "list_models", "model_family", "model_info", "register_model"]
