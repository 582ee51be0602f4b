"""Recognition throughput with random weights: Kartoteka's pipeline against a reference-style loop.

``make bench`` (tests/bench/recognition.py) measures the trained demo models, speed and CER together;
this one measures speed alone on models the size of TrOCR-small, with fixed-length decoding:

    python -m tests.bench.recognition_random [--cards 3] [--words 30] [--backends pytorch,onnx] [--batch-size 16]

Both sides use the same realistic architectures built from configuration with random weights — yolov8n
at 640 and a TrOCR-small-sized encoder-decoder (DeiT-small-like ViT 384 px / 12 layers, 6-layer 256-d
decoder, 64 044-token vocabulary) — and the same generation settings (beam 4, no_repeat_ngram_size 3,
length_penalty 2.0) with exactly 8 new tokens per word so the work is comparable. Both run the detector
on every card; an untrained detector finds no words, so both then read the card's 30 ground-truth word
boxes.

- reference: what the reference backend did: OpenCV decode (BGR), YOLO on the full-size card, then one
  ``generate`` per word crop, batch 1, sequentially.
- kartoteka: the production RecognizeCard use case with PillowCardImageLoader, YoloWordDetector (input
  resized to 1280×900) and TrOcrRecognizer (all crops of a card in batches of ``--batch-size``).

Every configuration runs in its own process so that peak RSS is its own. Printed: cards/min, words/s,
peak RSS, and the ratio of each Kartoteka configuration to the reference loop on the same backend.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GENERATION: dict[str, Any] = {
    "num_beams": 4,
    "min_new_tokens": 8,
    "max_new_tokens": 8,
    "no_repeat_ngram_size": 3,
    "length_penalty": 2.0,
    "early_stopping": True,
}


def build_models(root: Path, backends: list[str]) -> None:
    from kartoteka_dev.tiny_models import build_tiny_detector, build_tiny_recognizer, export_recognizer_onnx

    build_tiny_detector(root / "yolo", config="yolov8n.yaml")
    build_tiny_recognizer(
        root / "trocr",
        image_size=384,
        patch_size=16,
        encoder_hidden=384,
        encoder_layers=12,
        encoder_heads=6,
        decoder_hidden=256,
        decoder_layers=6,
        decoder_heads=8,
        pad_vocab_to=64044,
        init_std=0.02,
        max_length=16,
    )
    if "onnx" in backends:
        export_recognizer_onnx(root / "trocr", root / "trocr-onnx")


def make_cards(count: int, words: int) -> list[tuple[bytes, list[tuple[int, int, int, int]]]]:
    from kartoteka_dev.synthetic_cards import render_card

    cards = []
    for seed in range(count):
        card = render_card(1000 + seed, n_words=words)
        buf = io.BytesIO()
        card.image.save(buf, format="JPEG", quality=92)
        cards.append((buf.getvalue(), [w.box for w in card.words]))
    return cards


def run_reference(models: Path, backend: str, cards: list[tuple[bytes, list[Any]]]) -> Callable[[int], int]:
    """The reference backend's loop: BGR decode, full-size detection, one generate per crop."""
    import cv2
    import numpy as np
    import torch
    from transformers import TrOCRProcessor
    from ultralytics import YOLO

    from kartoteka.domain.recognition.geometry import Box
    from kartoteka.domain.recognition.layout import Detection, arrange_words
    from kartoteka.infrastructure.ml.runtime import available_cpus

    threads = available_cpus()  # the same threads as Kartoteka: a fair comparison
    detector = YOLO(str(models / "yolo" / "model.pt"), task="detect")
    model_dir = models / ("trocr-onnx" if backend == "onnx" else "trocr")
    processor = TrOCRProcessor.from_pretrained(str(model_dir))
    if backend == "onnx":
        from optimum.onnxruntime import ORTModelForVision2Seq

        model = ORTModelForVision2Seq.from_pretrained(str(model_dir), use_cache=True)
    else:
        from transformers import VisionEncoderDecoderModel

        model = VisionEncoderDecoderModel.from_pretrained(str(model_dir)).eval()

    def one(i: int) -> int:
        data, truth = cards[i % len(cards)]
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        detector(image, verbose=False)
        torch.set_num_threads(threads)  # ultralytics drops torch to cpu_count - 1 threads on CPU
        h, w = image.shape[:2]
        lines = arrange_words([Detection(Box(*b), 0.9) for b in truth], w, h)
        words = 0
        for line in lines:
            for det in line:
                x1, y1, x2, y2 = (int(v) for v in det.box.as_tuple())
                crop = image[y1:y2, x1:x2]
                pixel_values = processor(crop, return_tensors="pt").pixel_values
                with torch.inference_mode():
                    ids = model.generate(pixel_values, **GENERATION)
                processor.batch_decode(ids, skip_special_tokens=True)
                words += 1
        return words

    return one


def run_kartoteka(
    models: Path, backend: str, batch_size: int, precision: str, cards: list[tuple[bytes, list[Any]]]
) -> Callable[[int], int]:
    """The production use case and adapters; only the detector's output is replaced by ground truth."""
    from PIL import Image

    from kartoteka.application.recognition.recognize_card import RecognizeCard
    from kartoteka.domain.recognition.geometry import Box
    from kartoteka.domain.recognition.layout import Detection, LayoutRules
    from kartoteka.infrastructure.config.settings import DetectorSettings, InferenceSettings, RecognizerSettings
    from kartoteka.infrastructure.ml.images import PillowCardImageLoader
    from kartoteka.infrastructure.ml.runtime import resolve_device
    from kartoteka.infrastructure.ml.trocr_recognizer import TrOcrRecognizer
    from kartoteka.infrastructure.ml.yolo_detector import YoloWordDetector

    current: list[list[Any]] = [[]]

    class GroundTruthDetector(YoloWordDetector):
        def detect_sync(self, image: Image.Image) -> list[Detection]:
            super().detect_sync(image)  # the model runs and is timed; its (empty) answer is replaced
            return [Detection(Box(*b), 0.9) for b in current[0]]

    quantize = "int8" if precision == "int8" else "none"  # an ONNX configuration: int8 weights, fp32 device
    device_precision = "fp32" if quantize == "int8" else precision
    device = resolve_device(InferenceSettings(device="cpu", precision=device_precision))  # type: ignore[arg-type]
    model_dir = models / ("trocr-onnx" if backend == "onnx" else "trocr")
    detector = GroundTruthDetector(DetectorSettings(model=str(models / "yolo" / "model.pt")), device)
    recognizer = TrOcrRecognizer(
        RecognizerSettings(
            model=str(model_dir),
            backend=backend,  # type: ignore[arg-type]
            batch_size=batch_size,
            quantize=quantize,  # type: ignore[arg-type]
            generation={k: v for k, v in GENERATION.items() if k not in {"min_new_tokens"}},  # type: ignore[arg-type]
        ),
        device,
    )
    recognizer._generation["min_new_tokens"] = GENERATION["min_new_tokens"]  # fixed-length work, bench only
    use_case = RecognizeCard(PillowCardImageLoader(max_pixels=10**9), detector, recognizer, LayoutRules())

    def one(i: int) -> int:
        data, truth = cards[i % len(cards)]
        current[0] = truth
        transcript = asyncio.run(use_case(data))
        return len(transcript.words)

    return one


def child(args: argparse.Namespace) -> None:
    from kartoteka.infrastructure.ml.offline import prepare_offline_environment

    prepare_offline_environment()
    cards = make_cards(args.cards, args.words)
    kind, backend, precision = args.child.split(":")
    if kind == "reference":
        one = run_reference(args.models, backend, cards)
    else:
        one = run_kartoteka(args.models, backend, args.batch_size, precision, cards)
    one(0)  # warm-up: lazy imports, allocator, first-call graph setup
    words = 0
    start = time.perf_counter()
    for i in range(args.cards):
        words += one(i)
    elapsed = time.perf_counter() - start
    peak_mib = _peak_rss_mib()
    print(json.dumps({"config": args.child, "cards": args.cards, "words": words, "seconds": elapsed, "rss": peak_mib}))


def _peak_rss_mib() -> float:
    """VmHWM of this process. (ru_maxrss would carry the parent's peak across fork + exec.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=3, help="timed cards per configuration (after one warm-up)")
    parser.add_argument("--words", type=int, default=30)
    parser.add_argument("--backends", default="pytorch,onnx")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--precisions", default="fp32,auto", help="Kartoteka precisions to try with PyTorch (ONNX: fp32 and int8)"
    )
    parser.add_argument("--models", type=Path, help="keep the built models here and reuse them in later runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from kartoteka.infrastructure.ml.offline import prepare_offline_environment

    prepare_offline_environment()
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory(prefix="kartoteka-bench-") as tmp:
        models = args.models or Path(tmp)
        if not (models / "trocr" / "config.json").is_file():
            t = time.perf_counter()
            build_models(models, backends)
            print(f"# models built in {time.perf_counter() - t:.0f} s", flush=True)
        configs = []
        for backend in backends:
            configs.append(f"reference:{backend}:fp32")
            precisions = args.precisions.split(",") if backend == "pytorch" else ["fp32", "int8"]
            configs += [f"kartoteka:{backend}:{p}" for p in dict.fromkeys(precisions)]
        results: dict[str, dict[str, Any]] = {}
        for config in configs:
            cmd = [sys.executable, "-m", "tests.bench.recognition_random", "--child", config, "--models", str(models)]
            cmd += ["--cards", str(args.cards), "--words", str(args.words), "--batch-size", str(args.batch_size)]
            done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), check=False)
            if done.returncode != 0:
                print(f"# {config} failed:\n{done.stderr[-3000:]}", flush=True)
                continue
            results[config] = json.loads(done.stdout.strip().splitlines()[-1])
            r = results[config]
            print(f"# {config}: {r['words']} words in {r['seconds']:.1f} s", flush=True)

    print(
        f"\nrecognition benchmark: {args.cards} cards × {args.words} words, batch {args.batch_size}, "
        f"{os.cpu_count()} CPUs\n"
    )
    print(f"{'configuration':28} {'cards/min':>10} {'words/s':>9} {'peak RSS MiB':>13} {'vs reference':>13}")
    for config, r in results.items():
        backend = config.split(":")[1]
        cards_min = r["cards"] / r["seconds"] * 60
        words_s = r["words"] / r["seconds"]
        base = results.get(f"reference:{backend}:fp32")
        ratio = (base["seconds"] / base["words"]) / (r["seconds"] / r["words"]) if base else float("nan")
        print(f"{config:28} {cards_min:10.2f} {words_s:9.2f} {r['rss']:13.0f} {ratio:12.2f}×")


if __name__ == "__main__":
    main()
