"""The ``kartoteka`` command line: commands and their arguments."""

from __future__ import annotations

import argparse
from pathlib import Path


def _add_card_options(command: argparse.ArgumentParser) -> None:
    """The options of the commands that draw synthetic cards: which seeds, which hands."""
    command.add_argument("--seed", type=int, default=0, help="first card's seed (default 0)")
    command.add_argument(
        "--font",
        dest="fonts",
        type=Path,
        action="append",
        metavar="FILE",
        help="write the cards in this font (repeatable; default: the installed handwriting fonts)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kartoteka",
        description="Kartoteka: recognition and retrieval for archives of handwritten word cards.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="YAML configuration file (default: $KARTOTEKA_CONFIG); KARTOTEKA__SECTION__KEY variables override it",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    recognize = commands.add_parser(
        "recognize",
        help="read word cards with the configured models and print their transcripts",
        description="Detect, group and read the words on card scans; print one transcript per card.",
    )
    recognize.add_argument("cards", nargs="+", type=Path, metavar="CARD", help="image files")
    recognize.add_argument("--format", choices=("json", "txt"), default="json", help="output format (default json)")

    evaluate = commands.add_parser(
        "eval",
        help="measure the configured models against ground truth (CER, WER, stress marks, detection, lines)",
        description="Read every card of DIR with the configured models and compare with its ground truth: "
        "ground_truth.json (synthetic cards) and PAGE 2019 or ALTO v4 XML next to their scans; or, with "
        "--from-corrections, the cards in the configured database whose latest revision a person made.",
    )
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("directory", type=Path, nargs="?", metavar="DIR", help="cards with their ground truth")
    source.add_argument(
        "--from-corrections", action="store_true", help="the archive's corrected cards (database and S3)"
    )
    evaluate.add_argument("--format", choices=("table", "json"), default="table", help="output (default table)")
    evaluate.add_argument("--worst", type=int, default=5, metavar="N", help="list the N worst cards (default 5)")

    dataset = commands.add_parser(
        "dataset",
        help="write training sets: word crops for the recogniser, a YOLO set for the detector",
        description="Writes OUT/recognizer (an image folder with metadata.jsonl, as `datasets` loads it) and "
        "OUT/detector (images, labels, data.yaml, as ultralytics trains on it), split by card.",
    )
    dataset_commands = dataset.add_subparsers(dest="dataset_command", required=True, metavar="DATASET_COMMAND")
    synth = dataset_commands.add_parser("synth", help="a training set of synthetic cards (needs a checkout)")
    synth.add_argument("out", type=Path, metavar="OUT", help="an empty or new directory")
    synth.add_argument("--cards", type=int, required=True, help="number of cards")
    _add_card_options(synth)
    synth.add_argument("--workers", type=int, default=1, help="processes drawing cards (default 1)")
    export = dataset_commands.add_parser("export", help="a training set of the archive's corrected cards, or of DIR")
    export.add_argument("out", type=Path, metavar="OUT", help="an empty or new directory")
    export_source = export.add_mutually_exclusive_group(required=True)
    export_source.add_argument("--from-corrections", action="store_true", help="corrected cards (database and S3)")
    export_source.add_argument("--from", dest="source", type=Path, metavar="DIR", help="a ground-truth directory")
    for command in (synth, export):
        command.add_argument(
            "--validation", type=float, default=0.1, metavar="SHARE", help="share of cards to validate on (0.1)"
        )

    train = commands.add_parser(
        "train",
        help="train the recogniser or the detector on a training set (kartoteka dataset)",
        description="Writes a directory the worker loads as it is: recognizer.model or detector.model.",
    )
    train_commands = train.add_subparsers(dest="train_command", required=True, metavar="TRAIN_COMMAND")
    recognizer = train_commands.add_parser("recognizer", help="fine-tune TrOCR, or train a small one from scratch")
    recognizer.add_argument("--data", type=Path, required=True, help="a dataset directory (or its recognizer/)")
    recognizer.add_argument("--base", default="scratch", help="a TrOCR checkpoint directory, or 'scratch'")
    recognizer.add_argument("--out", type=Path, required=True, help="where the trained model goes")
    recognizer.add_argument("--size", choices=("tiny", "small"), default="small", help="from scratch: model size")
    recognizer.add_argument(
        "--encoder", choices=("vit", "swin"), default="vit", help="from scratch: the image encoder (vit)"
    )
    recognizer.add_argument("--steps", type=int, default=2000)
    recognizer.add_argument(
        "--minutes", type=float, help="time budget: the schedule follows the clock and training stops when it is spent"
    )
    recognizer.add_argument(
        "--image-size", default="32x128", metavar="HxW", help="from scratch: the input height x width (32x128)"
    )
    recognizer.add_argument(
        "--patch", default="8x8", metavar="HxW", help="from scratch, ViT: the patch height x width (8x8)"
    )
    recognizer.add_argument("--batch-size", type=int, default=32)
    recognizer.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (fine-tuning: try 5e-5)")
    recognizer.add_argument("--eval-every", type=int, default=250, metavar="STEPS")
    recognizer.add_argument(
        "--ctc-weight",
        type=float,
        default=0.5,
        metavar="W",
        help="weight of the auxiliary CTC loss that teaches the encoder where characters are (0.5; 0: off)",
    )
    recognizer.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    recognizer.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    detector = train_commands.add_parser("detector", help="train the YOLO word detector (ultralytics)")
    detector.add_argument("--data", type=Path, required=True, help="a dataset directory (or its data.yaml)")
    detector.add_argument("--base", default="yolo11n.yaml", help="an architecture .yaml or a .pt checkpoint")
    detector.add_argument("--out", type=Path, required=True, help="where model.pt goes")
    detector.add_argument("--epochs", type=int, default=50)
    detector.add_argument("--minutes", type=float, help="time budget instead of --epochs")
    detector.add_argument("--imgsz", type=int, default=640)
    detector.add_argument("--batch-size", type=int, default=8)
    detector.add_argument("--onnx", action="store_true", help="also export model.onnx")
    for command in (recognizer, detector):
        command.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
        command.add_argument("--threads", type=int, help="torch threads on the CPU (default: all cores)")
        command.add_argument("--seed", type=int, default=0)

    models = commands.add_parser(
        "models",
        help="the configured models: which are here (list), and fetching them from the hub (pull)",
        description="Nothing downloads at run time: pull the configured checkpoints once, where the hub is "
        "reachable (HF_ENDPOINT, HF_TOKEN), into the hub cache or --to DIR.",
    )
    models_commands = models.add_subparsers(dest="models_command", required=True, metavar="MODELS_COMMAND")
    listing = models_commands.add_parser("list", help="what is configured, what is here, and each identity")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    pulling = models_commands.add_parser("pull", help="download the configured models (resumes a partial one)")
    pulling.add_argument("models", nargs="*", metavar="OWNER/NAME", help="hub ids (default: the configured ones)")
    pulling.add_argument("--to", type=Path, metavar="DIR", help="into DIR/<owner>/<name> instead of the hub cache")
    pulling.add_argument("--revision", help="a branch, tag or commit (default: main)")
    for command in (listing, pulling):
        command.add_argument("--onnx", action="store_true", help="include the recogniser's published ONNX export")

    serve = commands.add_parser(
        "serve",
        help="run the whole service on this machine (embedded servers when none are configured)",
        description="Starts embedded PostgreSQL, Valkey and S3 unless configured, migrates, and runs api, relay "
        "and worker as child processes. Ctrl-C stops everything it started.",
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        help="where embedded servers keep their data (default: $KARTOTEKA_DATA_DIR, "
        "else /var/lib/kartoteka for root, else ~/.local/share/kartoteka)",
    )
    serve.add_argument("--no-worker", action="store_true", help="run api and relay only (workers run elsewhere)")
    serve.add_argument(
        "--watch",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="index and watch DIR as a gallery directory (repeatable; adds to gallery.roots)",
    )
    serve.add_argument(
        "--no-rabbitmq",
        action="store_true",
        help="do not start an installed rabbitmq-server; jobs go through the Redis list broker",
    )
    commands.add_parser("api", help="run the HTTP api (FastAPI over uvicorn)")
    commands.add_parser("migrate", help="bring the database schema up to date (alembic upgrade head)")
    worker = commands.add_parser("worker", help="run a TaskIQ worker for recognition and/or embedding jobs")
    worker.add_argument(
        "--queues",
        default="recognition",
        help="comma-separated queues to consume (default: recognition)",
    )
    commands.add_parser(
        "relay", help="deliver committed outbox messages to the broker and event channels; sweep for stuck jobs"
    )
    commands.add_parser("watcher", help="reconcile and watch the gallery directories (gallery.roots)")

    dev = commands.add_parser("dev", help="developer tools")
    dev_commands = dev.add_subparsers(dest="dev_command", required=True, metavar="DEV_COMMAND")
    fixtures = dev_commands.add_parser(
        "fixtures",
        help="the demo models, synthetic word cards and a config that uses them",
        description=(
            "Writes DIR/models (the checkout's trained demo models, models/demo; with --untrained or "
            "--onnx, a YOLO built from yolov8n.yaml and a small TrOCR-style model, both untrained), "
            "DIR/cards (synthetic Cyrillic word cards with ground truth) and DIR/config.yaml."
        ),
    )
    fixtures.add_argument("directory", type=Path, metavar="DIR")
    fixtures.add_argument("--cards", type=int, default=3, help="number of synthetic cards (default 3)")
    fixtures.add_argument("--onnx", action="store_true", help="untrained models, the recogniser also in ONNX")
    fixtures.add_argument(
        "--untrained", action="store_true", help="tiny untrained models (the code path only; they read noise)"
    )
    cards = dev_commands.add_parser(
        "cards",
        help="synthetic word cards with ground_truth.json, to evaluate on (kartoteka eval DIR)",
        description="Writes DIR/card_<seed>.png and DIR/ground_truth.json; a seed no training set used "
        "gives held-out cards.",
    )
    cards.add_argument("directory", type=Path, metavar="DIR")
    cards.add_argument("--cards", type=int, default=20, help="number of cards (default 20)")
    _add_card_options(cards)
    return parser
