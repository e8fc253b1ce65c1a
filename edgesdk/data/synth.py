"""``edgesdk data synth``: device recordings for a folder of clips.

Example:
    >>> parse_devices("glasses:head,watch:left_wrist")[1].rate_hz
    50.0
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from edgesdk.data.recording import write_take
from edgesdk.data.sensors import KINDS, DeviceSpec, simulate_take
from edgesdk.data.slots import SLOTS
from edgesdk.data.sources import list_motion_files, load_motion
from edgesdk.errors import EdgeSDKError

_TYPICAL = {
    "phone": DeviceSpec.phone,
    "watch": DeviceSpec.watch,
    "glasses": lambda slot: DeviceSpec.glasses(),
    "earbuds": lambda slot: DeviceSpec.earbuds(),
}


def parse_devices(text: str) -> list[DeviceSpec]:
    """``"kind:slot,kind:slot"`` to typical devices (noise, jitter, drops, own clocks)."""
    specs: list[DeviceSpec] = []
    for item in (s.strip() for s in text.split(",") if s.strip()):
        kind, sep, slot = item.partition(":")
        if not sep or kind not in KINDS or slot not in SLOTS:
            raise EdgeSDKError(
                f"--devices {item!r}: expected kind:slot with kind in {list(KINDS)} "
                f"and slot in {list(SLOTS)}"
            )
        if kind in ("glasses", "earbuds") and slot != "head":
            raise EdgeSDKError(f"--devices {item!r}: {kind} are worn on the head")
        specs.append(_TYPICAL[kind](slot))
    if not specs:
        raise EdgeSDKError("--devices: no device given")
    return specs


def synthesize_dir(
    data: Path,
    out: Path,
    devices: Sequence[DeviceSpec],
    seed: int = 0,
    limit: int | None = None,
    progress: bool = True,
) -> list[Path]:
    """One take folder per clip under ``out`` (each written atomically); returns the folders."""
    files = [data] if data.is_file() else list_motion_files(data)
    if not files:
        raise EdgeSDKError(f"{data}: no .bvh files found (nor .amc)")
    files = files[:limit] if limit is not None else files
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, path in enumerate(tqdm(files, desc="synth", disable=not progress)):
        clip = load_motion(path)
        take = simulate_take(clip, devices, seed=seed + i)
        written.append(write_take(take, out / clip.name, overwrite=True))
    return written
