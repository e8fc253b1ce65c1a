"""``python -m edgesdk.train`` (what ``torchrun --nproc_per_node N -m edgesdk.train`` runs).

Example:
    $ torchrun --nproc_per_node 2 -m edgesdk.train --model mlp-baseline --data DIR --out CKPT
"""

from __future__ import annotations

import sys

from edgesdk.cli import EXIT_BAD_INPUT, add_train_arguments
from edgesdk.cliargs import OneLineParser
from edgesdk.errors import EdgeSDKError


def main() -> int:
    parser = OneLineParser(prog="python -m edgesdk.train")
    add_train_arguments(parser)
    args = parser.parse_args()
    try:
        return int(args.func(args))
    except EdgeSDKError as exc:
        print(f"edgesdk: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
