"""Build the runtime's bone prior (``edgesdk/assets/bone_up_prior.json``) from motion capture.

For each slot's bone, a histogram of where "up" points in the bone's frame over every frame
of every clip in ``--data`` (see ``edgesdk.runtime.bone_prior``). The asset records this
command, the clip count per source and the frames read.

Usage:
    .venv/bin/python benchmarks/bone_prior.py --data ../shared/data/mocap
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections import Counter
from pathlib import Path

from edgesdk.data.mounts import SLOT_BONE
from edgesdk.data.slots import SLOTS
from edgesdk.io import write_text_atomic
from edgesdk.runtime.bone_prior import ASSET, BINS_AZ, BINS_COS, histogram
from edgesdk.train.data import load_clips_cached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="mocap folder")
    parser.add_argument("--out", default=str(ASSET), help="output JSON")
    args = parser.parse_args(argv)
    clips, fingerprint = load_clips_cached(Path(args.data))
    sources = Counter(c.source.split("/")[-2] if "/" in c.source else "" for c in clips)
    counts = {
        slot: histogram(c.R_world_joint[:, SLOT_BONE[slot]] for c in clips).astype(int).tolist()
        for slot in SLOTS
    }
    data = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "data_fingerprint": fingerprint,
        "clips": len(clips),
        "frames": sum(c.num_frames for c in clips),
        "sources": dict(sorted(sources.items())),
        "licence": "counts of bone tilts from the mocap sets named under sources "
        "(see ../shared/data/mocap/README.md for their licences)",
        "bins": [BINS_COS, BINS_AZ],
        "counts": counts,
    }
    # one compact line per slot keeps the asset small and its diff readable
    head = json.dumps({k: v for k, v in data.items() if k != "counts"}, indent=1)[:-2]
    rows = ",\n".join(f"  {json.dumps(s)}: {json.dumps(c)}" for s, c in counts.items())
    write_text_atomic(args.out, head + ',\n "counts": {\n' + rows + "\n }\n}\n")
    print(f"{args.out}: {len(clips)} clips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
