"""``edgesdk data synth``: device recordings for a folder of clips.

Example:
    >>> parse_devices("glasses:head,watch:left_wrist")[1].rate_hz
    50.0
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from edgesdk.data.device_spec import DeviceSpec
from edgesdk.data.mounts import KINDS
from edgesdk.data.recording import write_take
from edgesdk.data.simulate import simulate_take
from edgesdk.data.slots import SLOTS
from edgesdk.data.sources import list_motion_files, load_motion
from edgesdk.errors import EdgeSDKError
from edgesdk.io import clean_stale_temp

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
    names = take_names(files, data if data.is_dir() else data.parent)
    renamed = [n for f, n in zip(files, names, strict=True) if n != f.stem]
    if renamed:
        print(
            f"edgesdk: {len(renamed)} clips share a file name with another in {data}: their "
            f"takes are named after their folders ({', '.join(renamed[:3])}"
            f"{', ...' if len(renamed) > 3 else ''})",
            file=sys.stderr,
        )
    out.mkdir(parents=True, exist_ok=True)
    clean_stale_temp(out)  # folders of syntheses that were killed
    written = []
    bar = tqdm(list(zip(files, names, strict=True)), desc="synth", disable=not progress)
    for i, (path, name) in enumerate(bar):
        clip = load_motion(path)
        take = simulate_take(clip, devices, seed=seed + i)
        written.append(write_take(take, out / name, overwrite=True))
    return written


def take_names(files: Sequence[Path], root: Path) -> list[str]:
    """One take folder name per file: its stem, or, where stems collide (ignoring case, as
    some file systems do), its path under ``root`` joined with ``__``; always unique.

    Example:
        >>> take_names([Path("d/a/walk.bvh"), Path("d/b/walk.bvh"), Path("d/run.bvh")], Path("d"))
        ['a__walk', 'b__walk', 'run']
    """
    counts = Counter(f.stem.casefold() for f in files)
    names: list[str] = []
    taken: set[str] = set()
    for f in files:
        name = f.stem
        if counts[name.casefold()] > 1:
            rel = f.relative_to(root) if f.is_relative_to(root) else Path(f.name)
            name = "__".join(rel.with_suffix("").parts)
        base, k = name, 2
        while name.casefold() in taken:
            name, k = f"{base}-{k}", k + 1
        taken.add(name.casefold())
        names.append(name)
    return names
