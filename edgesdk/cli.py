"""The ``edgesdk`` command line.

Every command reports bad input as one line, ``edgesdk: error: <file or value>: <problem>``,
and exits with code 2; nothing is half-written.

Example:
    $ edgesdk data info walk.bvh
    $ edgesdk data info ../shared/data/mocap/hdm05/HDM_bd_squat1Reps_001_120.amc
    $ edgesdk data synth --data ../shared/data/mocap --out takes/ --limit 5
    $ edgesdk data show walk.bvh --out walk.gif
    $ edgesdk data import ../shared/data/devices/sp-sw-har --format sp-sw-har --out takes/
    $ edgesdk pipeline --out runs/demo
    $ edgesdk export --model runs/same-student --backend onnx --precision int8 --calib DIR --out x/
    $ edgesdk run --artifact x/same-student-int8.onnx --replay takes/take_0001 --out poses.jsonl
    $ edgesdk distill --teacher runs/same-small --student same-student --data DIR --out runs/s
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from edgesdk import targets
from edgesdk.bench.cli import add_bench_parsers
from edgesdk.cliargs import (
    OneLineParser,
    float_range,
    non_negative_float,
    positive_int,
    seed_int,
)
from edgesdk.errors import EdgeSDKError
from edgesdk.quantize.schemes import SCHEMES
from edgesdk.runtime.run_command import add_run_parser
from edgesdk.train.config import (
    DistillConfig,
    TrainConfig,
    add_config_arguments,
    config_from_args,
    parse_pairs,
)

EXIT_BAD_INPUT = 2
gif_fps = float_range(0.0, 100.0, low_open=True)  # a GIF frame lasts at least 10 ms
# Modules of the full install (`edgesdk[all]`); `edgesdk[runtime]` has numpy and the runtimes.
FULL_INSTALL_MODULES = frozenset(
    {"torch", "scipy", "safetensors", "matplotlib", "PIL", "smplx", "onnx", "onnxscript", "nncf"}
)


def _cmd_data_info(args: argparse.Namespace) -> int:
    from edgesdk.data.sources import list_motion_files, motion_info

    files = [
        f for p in map(Path, args.files) for f in (list_motion_files(p) if p.is_dir() else [p])
    ]
    if not files:
        raise EdgeSDKError(f"{' '.join(args.files)}: no .bvh or .amc files")
    infos = [motion_info(f) for f in files]
    print(json.dumps(infos[0] if len(infos) == 1 else infos, indent=2))
    return 0


def _cmd_data_synth(args: argparse.Namespace) -> int:
    from edgesdk.data.synth import parse_devices, synthesize_dir

    written = synthesize_dir(
        Path(args.data),
        Path(args.out),
        devices=parse_devices(args.devices),
        seed=args.seed,
        limit=args.limit,
        progress=not args.quiet,
    )
    print(json.dumps({"takes": len(written), "out": str(args.out)}))
    return 0


def _cmd_data_show(args: argparse.Namespace) -> int:
    from edgesdk.data.render import render_gif
    from edgesdk.data.sources import load_motion

    clip = load_motion(Path(args.file))
    out = render_gif(clip, Path(args.out), fps=args.fps, title=clip.labels.text() or clip.name)
    print(json.dumps({"gif": str(out), "frames_in_clip": clip.num_frames}))
    return 0


def _cmd_data_import(args: argparse.Namespace) -> int:
    from edgesdk.data.importers import import_recordings, parse_slots

    summary = import_recordings(
        Path(args.src),
        args.format,
        Path(args.out),
        slots=parse_slots(args.slot),
        orientation=args.orientation,
        kind=args.kind or "",
        overwrite=args.overwrite,
    )
    totals: dict[str, int] = {}
    for per_device in summary["samples"].values():
        for device, n in per_device.items():
            totals[device] = totals.get(device, 0) + n
    print(
        json.dumps(
            {
                "takes": summary["takes"],
                "out": summary["out"],
                "samples": totals,
                "dropped": summary["dropped"],
                "repeated_timestamps": summary["repeated_timestamps"],
            }
        )
    )
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from edgesdk.train.trainer import train

    out = train(config_from_args(TrainConfig, args))
    print(json.dumps({"checkpoint": str(out)}))
    return 0


def _cmd_distill(args: argparse.Namespace) -> int:
    from edgesdk.train.distill import distill

    out = distill(config_from_args(DistillConfig, args))
    print(json.dumps({"checkpoint": str(out), "teacher": args.teacher, "alpha": args.alpha}))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from edgesdk.train.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(
        args.model,
        args.data,
        batch_size=args.batch_size,
        limit=args.limit,
        progress=not args.quiet,
        overrides=parse_pairs(args.set),
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        o = result["overall"]
        print(
            f"{result['model']}: MPJPE {o['mpjpe_mm']:.1f} mm, PA-MPJPE {o['pa_mpjpe_mm']:.1f} mm"
        )
    return 0


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` options, one per ``TrainConfig`` field the command line sets (shared with
    ``python -m edgesdk.train`` under torchrun)."""
    add_config_arguments(parser, TrainConfig)
    parser.set_defaults(func=_cmd_train)


def _cmd_pipeline(args: argparse.Namespace) -> int:
    from edgesdk.pipeline import format_table, run_pipeline

    out = Path(args.out)
    summary = run_pipeline(
        out_dir=out,
        data_dir=Path(args.data) if args.data else None,
        limit=args.limit,
        seed=args.seed,
        teacher_steps=args.teacher_steps,
        student_steps=args.student_steps,
    )
    stages = summary["stages"]
    exported = [a for s in stages["export"].values() for a in s["artifacts"].values()]
    print(format_table(summary["table"]))
    print(
        f"\n{sum(a['passed'] for a in exported)} of {len(exported)} artifacts passed validation; "
        f"{len(stages['bench']['budget_violations'])} budget violation(s); "
        f"{summary['wall_s'] / 60:.1f} min.\n"
        f"Report: {out / 'report' / 'report.md'}\nSummary: {out / 'summary.json'}"
    )
    return 0


def _default_precision_help() -> str:
    """``default: the backend's (fp16 for coreml, else fp32)``, from the target table."""
    table = targets.TARGETS.values()
    usual = Counter(t.default_precision for t in table).most_common(1)[0][0]
    others = [f"{t.default_precision} for {t.name}" for t in table if t.default_precision != usual]
    return f"default: the backend's ({', '.join([*others, f'else {usual}' if others else usual])})"


def _cmd_export(args: argparse.Namespace) -> int:
    from edgesdk.export.export import export_model
    from edgesdk.export.manifest import manifest_path

    path = export_model(
        args.model,
        args.backend,
        args.precision,
        Path(args.out),
        calib_dir=args.calib,
        calib_samples=args.calib_samples,
        progress=not args.quiet,
        command=" ".join(["edgesdk", *args.argv]),
        scheme=args.scheme,
        fallback=not args.no_fallback,
        gate_mm=args.gate_mm,
    )
    manifest = json.loads(manifest_path(path).read_text())
    numerics = manifest.get("numerics", {})
    print(
        json.dumps(
            {
                "artifact": str(path),
                "manifest": str(manifest_path(path)),
                "bytes": manifest["file_size_bytes"],
                "passed": numerics.get("passed"),
                "mpjpe_delta_mm": numerics.get("mpjpe_delta_mm"),
            }
        )
    )
    if numerics.get("passed") is False:
        print(
            f"edgesdk export: {path}: misses the gate (MPJPE delta "
            f"{numerics.get('mpjpe_delta_mm', float('nan')):+.2f} mm, at most {args.gate_mm:g})",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from edgesdk.export.junit import write_junit
    from edgesdk.export.validate import validate

    reports = [
        validate(
            a,
            args.data,
            args.max_mpjpe_delta_mm,
            args.windows,
            args.model_dir,
            progress=not args.quiet,
        )
        for a in args.artifacts
    ]
    if args.junit:
        write_junit(args.junit, "edgesdk.validate", reports)
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    else:
        for r in reports:
            figure = (
                f"MPJPE {r['mpjpe_artifact_mm']:.2f} mm vs eager {r['mpjpe_eager_mm']:.2f}"
                f" (delta {r['mpjpe_delta_mm']:+.2f})"
                if r["ran"]
                else r["reason"]
            )
            print(f"{'PASS' if r['passed'] else 'FAIL'} {r['artifact']}: {figure}")
    return 0 if all(r["passed"] for r in reports) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="edgesdk", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="motion import, sensor simulation, rendering")
    data_sub = data.add_subparsers(dest="data_command", required=True)

    info = data_sub.add_parser("info", help="print motion files' summaries as JSON")
    info.add_argument("files", nargs="+", help=".bvh or .amc files, or folders of them")
    info.set_defaults(func=_cmd_data_info)

    synth = data_sub.add_parser("synth", help="write simulated device recordings for clips")
    synth.add_argument("--data", required=True, help="a .bvh/.amc file or a folder of them")
    synth.add_argument("--out", required=True, help="output folder, one take folder per clip")
    synth.add_argument(
        "--devices",
        default="glasses:head,watch:left_wrist,phone:right_pocket",
        help="comma-separated kind:slot pairs (kinds: phone, watch, glasses, earbuds)",
    )
    synth.add_argument("--seed", type=seed_int, default=0)
    synth.add_argument("--limit", type=positive_int, default=None, help="at most this many clips")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=_cmd_data_synth)

    show = data_sub.add_parser("show", help="render a skeleton animation GIF")
    show.add_argument("file", help="a .bvh or .amc file")
    show.add_argument("--out", required=True, help="output .gif")
    show.add_argument("--fps", type=gif_fps, default=15.0)
    show.set_defaults(func=_cmd_data_show)

    imp = data_sub.add_parser("import", help="real device recordings into take folders")
    imp.add_argument("src", help="a recording's file or folder, or a folder of recordings")
    imp.add_argument(
        "--format",
        required=True,
        choices=["sp-sw-har", "coremotion-txt", "android-csv", "ios-csv"],
        help="the source format (docs/sensors.md, section 9)",
    )
    imp.add_argument("--out", required=True, help="output folder, one take folder per recording")
    imp.add_argument(
        "--slot",
        action="append",
        default=[],
        metavar="DEVICE=SLOT",
        help="where a device was worn, when known (e.g. phone=right_pocket); default: detected",
    )
    imp.add_argument(
        "--orientation",
        default="auto",
        choices=["auto", "filter", "none"],
        help="auto: the device's quaternion, else edgesdk's filter; filter: always the filter; "
        "none: raw accelerometer + gyroscope only (the runtime filters live)",
    )
    imp.add_argument("--kind", default=None, help="device kind for one-device formats (phone)")
    imp.add_argument("--overwrite", action="store_true", help="replace existing take folders")
    imp.set_defaults(func=_cmd_data_import)

    add_train_arguments(sub.add_parser("train", help="train a registered model"))

    dis = sub.add_parser("distill", help="distill a teacher checkpoint into a student")
    add_config_arguments(dis, DistillConfig)
    dis.set_defaults(func=_cmd_distill)

    ev = sub.add_parser("eval", help="evaluate a checkpoint on held-out files")
    ev.add_argument("--model", required=True, help="checkpoint folder")
    ev.add_argument("--data", required=True, help="folder of .bvh/.amc files")
    ev.add_argument("--json", action="store_true", help="print every figure as JSON")
    ev.add_argument("--batch-size", type=positive_int, default=64)
    ev.add_argument("--limit", type=positive_int, default=None, help="at most this many clips")
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    ev.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change an inference-time config field (e.g. code_selection=hard)",
    )
    ev.set_defaults(func=_cmd_eval)

    exp = sub.add_parser("export", help="export a checkpoint to a device runtime's artifact")
    exp.add_argument("--model", required=True, help="checkpoint folder")
    exp.add_argument("--backend", required=True, choices=targets.names())
    exp.add_argument(
        "--precision",
        default=None,
        choices=targets.precisions(),
        help=_default_precision_help(),
    )
    exp.add_argument(
        "--calib",
        default=None,
        metavar="DATA_DIR",
        help="mocap folder: int8 calibration (train split) and numerics (test)",
    )
    exp.add_argument("--calib-samples", type=positive_int, default=256)
    exp.add_argument(
        "--scheme",
        default=None,
        help="int8 scheme (default: the backend's chosen one); "
        + "; ".join(f"{b}: {', '.join(t)}" for b, t in SCHEMES.items()),
    )
    exp.add_argument(
        "--no-fallback",
        action="store_true",
        help="int8: keep every layer quantized even when the artifact misses the gate "
        "(the export still exits 1 on a missed gate)",
    )
    exp.add_argument(
        "--gate-mm",
        type=float_range(0.0, low_open=True),
        default=3.0,
        help="int8 gate: largest MPJPE delta to eager fp32 on held-out windows (mm)",
    )
    exp.add_argument("--out", required=True, help="output folder")
    exp.add_argument("--quiet", action="store_true", help="no progress bars")
    exp.set_defaults(func=_cmd_export)

    val = sub.add_parser("validate", help="run artifacts in their runtimes against eager")
    val.add_argument("artifacts", nargs="+", help=" / ".join(targets.suffixes()))
    val.add_argument("--data", default=None, help="mocap folder (its test split is used)")
    val.add_argument("--max-mpjpe-delta-mm", type=non_negative_float, default=3.0)
    val.add_argument("--windows", type=positive_int, default=24, help="held-out windows to run")
    val.add_argument("--model-dir", default=None, help="checkpoint (default: the manifest's)")
    val.add_argument("--json", action="store_true", help="print the full reports as JSON")
    val.add_argument("--junit", default=None, metavar="FILE", help="write JUnit XML")
    val.add_argument("--quiet", action="store_true", help="no progress bars")
    val.set_defaults(func=_cmd_validate)

    pipe = sub.add_parser("pipeline", help="the main job, end to end (what `make demo` runs)")
    pipe.add_argument("--out", default="runs/demo", help="output folder")
    pipe.add_argument("--data", default=None, help="mocap folder (default: ../shared or bundled)")
    pipe.add_argument("--limit", type=positive_int, default=None, help="at most this many clips")
    pipe.add_argument("--seed", type=seed_int, default=0)
    pipe.add_argument(
        "--teacher-steps", type=positive_int, default=20, help="optimizer steps per teacher stage"
    )
    pipe.add_argument(
        "--student-steps",
        type=positive_int,
        default=40,
        help="optimizer steps of each distillation",
    )
    pipe.set_defaults(func=_cmd_pipeline)
    add_run_parser(sub)
    add_bench_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``edgesdk`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0), or a bad argument (2, one line already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    args.argv = argv
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except EdgeSDKError as exc:
        print(f"edgesdk: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("edgesdk: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in FULL_INSTALL_MODULES:
            raise
        what = " ".join(a for a in argv[:2] if not a.startswith("-"))
        print(
            f"edgesdk: error: `edgesdk {what}` needs {missing}, which is not installed "
            '(an edgesdk[runtime] install?): pip install "edgesdk[all]"',
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
