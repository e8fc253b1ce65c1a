"""Input kinds are declared once: every registered model reads only declared kinds, in the
declared shapes, and the tools derive rates and window fields from a model's spec."""

from __future__ import annotations

import pytest

from edgesdk.errors import EdgeSDKError
from edgesdk.input_kinds import (
    INPUT_KINDS,
    input_kind,
    manifest_rates,
    reads_text,
    samples_per_frame,
    window_fields,
)
from edgesdk.models import create_model, list_models


@pytest.mark.parametrize("name", list_models())
def test_every_model_input_is_a_declared_kind(name: str) -> None:
    for t in create_model(name).spec.inputs:
        assert input_kind(t.name).matches(t.shape), (name, t.name, t.shape)


def test_samples_per_frame_and_shapes() -> None:
    assert samples_per_frame(("batch", "time", 5, 9)) == 1
    assert samples_per_frame(("batch", "4*time", 12)) == 4
    assert samples_per_frame(("batch", 384)) == 0
    assert INPUT_KINDS["imu"].matches(("batch", "time", 5, 9))
    assert not INPUT_KINDS["imu"].matches(("batch", "time", 5, 6))
    assert not INPUT_KINDS["text_emb"].matches(("batch", "time", 384))
    assert INPUT_KINDS["text_emb"].matches(("batch", 384))
    with pytest.raises(EdgeSDKError, match="unknown model input 'imu2'"):
        input_kind("imu2")


def test_rates_and_window_fields_follow_the_declared_factor() -> None:
    hr = [("head_imu_hr", ("batch", "4*time", 12))]
    assert window_fields(hr) == {"head_hr_factor": 4}
    assert manifest_rates(hr, 30.0) == {"head_imu_hz": 120.0}
    assert window_fields([("imu", ("batch", "time", 5, 9))]) == {}
    assert manifest_rates([("head", ("batch", "time", 9))], 30.0) == {"head_imu_hz": None}
    assert reads_text(["imu", "text_emb"]) and not reads_text(["imu", "mask", "head"])


def test_head_student_windows_carry_its_configured_rate() -> None:
    from edgesdk.train.data import window_config_for

    model = create_model("head2body-student-tiny", hr_factor=4)
    assert window_config_for(model).head_hr_factor == 4
    assert window_config_for(create_model("imuposer-small")).head_hr_factor == 0
