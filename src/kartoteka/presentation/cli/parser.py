"""The ``kartoteka`` command line: commands and their arguments."""

from __future__ import annotations

import argparse
from pathlib import Path


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
        help="build tiny untrained models and synthetic word cards, and a config that uses them",
        description=(
            "Writes DIR/models (a YOLO built from yolov8n.yaml and a small TrOCR-style model, both "
            "untrained), DIR/cards (synthetic Cyrillic word cards with ground truth) and DIR/config.yaml."
        ),
    )
    fixtures.add_argument("directory", type=Path, metavar="DIR")
    fixtures.add_argument("--cards", type=int, default=3, help="number of synthetic cards (default 3)")
    fixtures.add_argument("--onnx", action="store_true", help="also export the recogniser to ONNX")
    return parser
