"""``make bench``: recognition speed and quality per configuration, with the trained demo models.

    python -m tests.bench.recognition [--cards 4] [--seed 900000] [--font FILE ...]
        [--detector models/demo/detector/model.pt] [--recognizer models/demo/recognizer] [--config my.yaml]
        [--configs a,b,...] [--device cpu] [--work DIR] [--json out.json]

Fresh synthetic cards (``write_cards`` with ``--seed``: no training set used these seeds; ``--font`` picks
the hands, by default every installed handwriting font, the one left out of training included) are read by
each configuration
(see tests/bench/recognition_runs.py): the reference backend's loop, Kartoteka with PyTorch fp32 and bf16,
ONNX fp32 and int8, and the worker's overlapped pipeline (two cards in flight). Each runs in a process of
its own, so its peak RSS is its own. Printed per configuration: cards/min, words/s, the speed-up over the
reference loop in this same run (time per card), peak RSS, CER and WER against the cards' ground truth
(scored as ``kartoteka eval`` scores), and the CER change from PyTorch fp32. The issue's target: 3× the
reference loop with CER within 0.01 of fp32.

``--config`` takes the detector and recogniser settings (thresholds, input size, batch size, generation
overrides) from a Kartoteka YAML file; ``--detector`` and ``--recognizer`` name the models whatever it says.
Random-weight models of TrOCR-small's size (speed only): ``python -m tests.bench.recognition_random``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

CONFIGS = (
    "reference:pytorch:fp32",
    "kartoteka:pytorch:fp32",
    "kartoteka:pytorch:bf16",
    "kartoteka:onnx:fp32",
    "kartoteka:onnx:int8",
    "overlap:pytorch:fp32",
    "overlap:onnx:int8",
)
BASELINE = "kartoteka:pytorch:fp32"
REFERENCE = "reference:pytorch:fp32"
TARGET_SPEEDUP = 3.0
TARGET_CER_DELTA = 0.01
GENERATION_KEYS = ("num_beams", "do_sample", "max_length", "max_new_tokens", "no_repeat_ngram_size", "length_penalty")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=4, help="timed cards per configuration (after one warm-up)")
    parser.add_argument("--seed", type=int, default=900_000, help="first seed of the synthetic cards")
    parser.add_argument(
        "--font",
        dest="fonts",
        type=Path,
        action="append",
        help="write the cards in this font (repeatable; default: the installed handwriting fonts)",
    )
    parser.add_argument("--detector", type=Path, default=Path("models/demo/detector/model.pt"))
    parser.add_argument("--recognizer", type=Path, default=Path("models/demo/recognizer"))
    parser.add_argument("--config", type=Path, help="Kartoteka YAML whose recognition settings to use")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="which configurations, comma-separated")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (every configuration uses it)")
    parser.add_argument("--work", type=Path, help="keep the cards and the ONNX export here and reuse them")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--cards-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--onnx-dir", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def settings_for(args: argparse.Namespace) -> Any:
    """The configured recognition settings with the benchmark's models in them."""
    from kartoteka.infrastructure.config.settings import load_settings

    settings = load_settings(args.config)
    rec = settings.recognition
    recognition = rec.model_copy(
        update={
            "detector": rec.detector.model_copy(update={"model": str(args.detector.resolve())}),
            "recognizer": rec.recognizer.model_copy(update={"model": str(args.recognizer.resolve())}),
        }
    )
    return settings.model_copy(update={"recognition": recognition})


def child(args: argparse.Namespace) -> dict[str, Any]:
    from kartoteka.infrastructure.ml.runtime import DeviceUnavailableError
    from tests.bench.recognition_runs import Cards, measure, quality

    cards = Cards.load(args.cards_dir)
    try:
        run = measure(args.child, settings_for(args), cards, args.device, args.onnx_dir)
    except DeviceUnavailableError as exc:
        return {"config": args.child, "unavailable": str(exc)}
    summary = quality(cards, run.transcripts)
    return {
        "config": args.child,
        "cards": len(cards.scans),
        "words": sum(len(t.words) for t in run.transcripts),
        "seconds": run.seconds,
        "rss_mib": _peak_rss_mib(),
        "cer": summary.cer,
        "wer": summary.wer,
        "cer_folded": summary.cer_folded,
        "detection_f1": summary.detection.f1,
        "models": [f"{m.role}:{m.backend}" for m in (run.transcripts[0].models if run.transcripts else ())],
    }


def _peak_rss_mib() -> float:
    """VmHWM of this process. (ru_maxrss would carry the parent's peak across fork + exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def threads(args: argparse.Namespace) -> str:
    """The torch thread counts every configuration runs with (as configure_torch_threads sets them)."""
    from kartoteka.infrastructure.ml.runtime import available_cpus

    inference = settings_for(args).inference
    recognizer = inference.torch_threads or available_cpus()
    return f"recogniser {recognizer}, detector {inference.detector_threads or max(1, recognizer // 2)}"


def generation_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What every configuration decodes with: the recogniser's generation config plus configured overrides."""
    from transformers import GenerationConfig

    config = GenerationConfig.from_pretrained(str(args.recognizer)).to_dict()
    config.update(settings_for(args).recognition.recognizer.generation.overrides())
    return {k: config.get(k) for k in GENERATION_KEYS}


def prepare(args: argparse.Namespace, work: Path, configs: list[str]) -> tuple[Path, Path | None]:
    """The cards (written once per seed and count) and, for ONNX configurations, the recogniser's export."""
    from kartoteka.infrastructure.ml.model_files import revision_of
    from kartoteka_dev.synthetic_cards import write_cards
    from kartoteka_dev.tiny_models import export_recognizer_onnx

    fonts = "-".join(sorted(f.stem for f in args.fonts)) if args.fonts else "default-fonts"
    cards = work / f"cards-{args.seed}-{args.cards}-{fonts}"
    if not (cards / "ground_truth.json").is_file():
        write_cards(cards, args.cards, seed=args.seed, font_paths=args.fonts)
    onnx = None
    if any(c.split(":")[1] == "onnx" for c in configs):
        onnx = work / f"onnx-{args.recognizer.resolve().name}-{revision_of(args.recognizer.resolve())}"
        if not (onnx / "encoder_model.onnx").is_file():
            began = time.perf_counter()
            with warnings.catch_warnings():  # the tracer's notes on every data-dependent branch it fixed
                warnings.simplefilter("ignore")
                export_recognizer_onnx(args.recognizer.resolve(), onnx)
            print(f"# recogniser exported to ONNX in {time.perf_counter() - began:.0f} s", flush=True)
    return cards, onnx


def run_configs(args: argparse.Namespace, configs: list[str], cards: Path, onnx: Path | None) -> list[dict[str, Any]]:
    results = []
    for config in configs:
        cmd = [sys.executable, "-m", "tests.bench.recognition", "--child", config, "--cards-dir", str(cards)]
        cmd += ["--detector", str(args.detector), "--recognizer", str(args.recognizer), "--device", args.device]
        if args.config:
            cmd += ["--config", str(args.config)]
        if onnx is not None:
            cmd += ["--onnx-dir", str(onnx)]
        began = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), check=False)
        if done.returncode != 0:
            print(f"# {config} failed:\n{done.stderr[-3000:]}", flush=True)
            results.append({"config": config, "unavailable": f"failed (exit {done.returncode})"})
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        results.append(result)
        if "unavailable" in result:
            print(f"# {config}: {result['unavailable']}", flush=True)
        else:
            print(
                f"# {config}: {result['words']} words in {result['seconds']:.1f} s "
                f"({time.perf_counter() - began:.0f} s with loading)",
                flush=True,
            )
    return results


def with_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each result with its speed-up over the reference loop and its CER change from PyTorch fp32."""
    measured = {r["config"]: r for r in results if "unavailable" not in r}
    reference, baseline = measured.get(REFERENCE), measured.get(BASELINE)
    out = []
    for r in results:
        r = dict(r)
        if "unavailable" not in r:
            per_card = r["seconds"] / r["cards"]
            r["cards_per_min"] = 60 / per_card
            r["words_per_s"] = r["words"] / r["seconds"]
            r["vs_reference"] = (reference["seconds"] / reference["cards"]) / per_card if reference else None
            r["cer_delta"] = r["cer"] - baseline["cer"] if baseline else None
        out.append(r)
    return out


def print_table(args: argparse.Namespace, results: list[dict[str, Any]], generation: dict[str, Any]) -> None:
    fonts = ", ".join(f.stem for f in args.fonts) if args.fonts else "the installed handwriting fonts"
    print(
        f"\nrecognition benchmark: {args.cards} fresh synthetic cards (seed {args.seed}; fonts: {fonts}), "
        f"device {args.device}, {os.cpu_count()} CPUs, torch threads: {threads(args)}\n"
        f"models: {args.detector}, {args.recognizer}\n"
        f"generation (recogniser's config + overrides, every configuration): "
        + ", ".join(f"{k}={v}" for k, v in generation.items() if v is not None)
        + "\n"
    )
    header = f"{'configuration':24} {'cards/min':>9} {'words/s':>8} {'vs ref':>7} {'RSS MiB':>8}"
    print(header + f" {'CER':>6} {'ΔCER fp32':>9} {'WER':>6} {'det F1':>6}")
    for r in results:
        if "unavailable" in r:
            print(f"{r['config']:24} unavailable: {r['unavailable']}")
            continue
        ratio = f"{r['vs_reference']:6.2f}×" if r["vs_reference"] is not None else f"{'-':>7}"
        delta = f"{r['cer_delta']:+9.4f}" if r["cer_delta"] is not None else f"{'-':>9}"
        print(
            f"{r['config']:24} {r['cards_per_min']:9.2f} {r['words_per_s']:8.2f} {ratio} {r['rss_mib']:8.0f}"
            f" {r['cer']:6.4f} {delta} {r['wer']:6.4f} {r['detection_f1']:6.3f}"
        )
    met = [
        r["config"]
        for r in results
        if r.get("vs_reference") is not None
        and r["vs_reference"] >= TARGET_SPEEDUP
        and r.get("cer_delta") is not None
        and abs(r["cer_delta"]) <= TARGET_CER_DELTA
    ]
    print(
        f"\ntarget ≥{TARGET_SPEEDUP:g}× the reference loop with |ΔCER| ≤ {TARGET_CER_DELTA}: "
        + (", ".join(met) if met else "met by no configuration")
    )


def main() -> None:
    args = parse_args()
    from kartoteka.infrastructure.ml.offline import prepare_offline_environment

    prepare_offline_environment()
    if args.child:
        print(json.dumps(child(args)))
        return
    for path in (args.detector, args.recognizer):
        if not path.exists():
            sys.exit(f"{path} is not there: pass --detector/--recognizer (e.g. from `kartoteka dev fixtures DIR`)")
    configs = [c for c in args.configs.split(",") if c]
    with tempfile.TemporaryDirectory(prefix="kartoteka-bench-") as tmp:
        work = args.work or Path(tmp)
        cards, onnx = prepare(args, work, configs)
        results = with_ratios(run_configs(args, configs, cards, onnx))
    generation = generation_settings(args)
    print_table(args, results, generation)
    if args.json:
        report = {"cards": args.cards, "seed": args.seed, "device": args.device, "generation": generation}
        report["fonts"] = [str(f) for f in args.fonts or ()]
        report["detector"], report["recognizer"] = str(args.detector), str(args.recognizer)
        args.json.write_text(json.dumps({**report, "results": results}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
