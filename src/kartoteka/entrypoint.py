"""The ``kartoteka`` console script: parse the command, load settings, build the container, run."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

from kartoteka.infrastructure.config.settings import CONFIG_PATH_VARIABLE, ConfigurationError, Settings, load_settings
from kartoteka.infrastructure.ml.offline import prepare_offline_environment
from kartoteka.presentation.cli.parser import build_parser

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "models" and args.models_command == "pull":
        # The one command that talks to the hub: read before the hub client is first imported.
        os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "0"
    prepare_offline_environment()
    if args.command == "dev":
        try:
            from kartoteka_dev.fixtures import write_fixtures
        except ModuleNotFoundError as exc:  # an installed wheel ships no developer tools
            print(
                f"kartoteka: the developer tools are not installed ({exc}); they come with a checkout's `uv sync`",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        if args.dev_command == "cards":
            from kartoteka_dev.synthetic_cards import write_cards

            problem = _fonts_problem(args.fonts)
            if problem:
                print(f"kartoteka: {problem}", file=sys.stderr)
                return EXIT_CONFIG
            written = write_cards(args.directory, args.cards, args.seed, font_paths=args.fonts)
            print(f"{args.directory}: {len(written)} cards with ground_truth.json (seeds {args.seed}..)")
            return 0
        write_fixtures(args.directory, cards=args.cards, onnx=args.onnx, untrained=args.untrained)
        return 0
    try:
        settings = load_settings(args.config)
    except ConfigurationError as exc:
        print(f"kartoteka: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command in {"serve", "api", "worker", "relay", "watcher", "migrate"}:
        from kartoteka.infrastructure.observability.log_records import configure_logging

        configure_logging(settings.logging.format, settings.logging.level)
    if args.command in {"recognize", "eval"} and not (args.config or os.environ.get(CONFIG_PATH_VARIABLE)):
        settings = _demo_models_unless_configured(settings)
    if args.command == "recognize":
        return asyncio.run(_recognize(settings, args))
    if args.command == "eval":
        return asyncio.run(_evaluate(settings, args))
    if args.command == "models":
        return _models(settings, args)
    if args.command == "train":
        return _train(args)
    if args.command == "dataset":
        problem = _dataset_problem(args)
        if problem:
            print(f"kartoteka: {problem}", file=sys.stderr)
            return EXIT_CONFIG
        return asyncio.run(_dataset(settings, args))
    if args.command == "serve":
        from kartoteka.infrastructure.embedded.stack import default_data_dir
        from kartoteka.runtime.serve import ServeOptions, run_serve

        options = ServeOptions(
            data_dir=(args.data_dir or default_data_dir()).absolute(),
            config=args.config,
            worker=not args.no_worker,
            rabbitmq=not args.no_rabbitmq,
            watch=tuple(path.absolute() for path in args.watch),
        )
        codes: list[int] = []

        async def serve(stop: asyncio.Event) -> None:
            codes.append(await run_serve(settings, options, stop))

        started = _serve_process(serve)
        return started if started else (codes[0] if codes else 0)
    if args.command == "api":
        from kartoteka.runtime.api import run_api

        return 0 if run_api(settings) else EXIT_UNAVAILABLE
    if args.command == "migrate":
        from kartoteka.infrastructure.db.extensions import DatabaseExtensionError
        from kartoteka.infrastructure.db.migrate import upgrade

        try:
            upgrade(settings.database.url)
        except DatabaseExtensionError as exc:
            print(f"kartoteka: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        return 0
    if args.command == "worker":
        from kartoteka.runtime.worker import run_worker

        queues = [q.strip() for q in args.queues.split(",") if q.strip()]
        unknown = sorted(set(queues) - {"recognition", "embedding"})
        if unknown or not queues:
            print(
                f"kartoteka: unknown queue(s) {', '.join(unknown) or '(none)'}; use recognition, embedding",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        return _serve_process(lambda stop: run_worker(settings, queues, stop))
    if args.command == "relay":
        from kartoteka.runtime.relay import run_relay

        return _serve_process(lambda stop: run_relay(settings, stop))
    if args.command == "watcher":
        from kartoteka.runtime.watcher import run_watcher

        return _serve_process(lambda stop: run_watcher(settings, stop))
    raise AssertionError(f"unhandled command {args.command}")


def _serve_process(body: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run a process body; a missing model or an unreachable server at start-up is a one-line error."""
    from kartoteka.application.shared.database import DatabaseUnavailableError
    from kartoteka.application.shared.models import ModelUnavailableError
    from kartoteka.application.shared.storage import StorageUnavailableError
    from kartoteka.infrastructure.db.extensions import DatabaseExtensionError
    from kartoteka.infrastructure.embedded.process import ServerStartError
    from kartoteka.infrastructure.ml.runtime import DeviceUnavailableError

    try:
        return asyncio.run(_until_signalled(body))
    except (ModelUnavailableError, DeviceUnavailableError) as exc:
        print(f"kartoteka: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DatabaseExtensionError as exc:
        print(f"kartoteka: cannot start: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (StorageUnavailableError, DatabaseUnavailableError, ServerStartError, ConnectionError, OSError) as exc:
        print(f"kartoteka: cannot start: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE


async def _until_signalled(body: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run a long-lived process body; SIGINT or SIGTERM asks it to stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await body(stop)
    return 0


def _demo_models_unless_configured(settings: Settings) -> Settings:
    """In a checkout, with no model configured and the published ones not on this machine: the demo models.

    So a fresh clone's ``kartoteka recognize card.jpg`` reads the card instead
    of stopping at a missing checkpoint. It says so on stderr, and every
    transcript names the models that read it; an installed package (no
    checkout, no demo models) keeps the published checkpoints and their
    clear error when they are missing.
    """
    from kartoteka.application.shared.models import ModelUnavailableError
    from kartoteka.infrastructure.ml.model_files import resolve_model_path

    recognition = settings.recognition
    if "model" in recognition.detector.model_fields_set | recognition.recognizer.model_fields_set:
        return settings
    try:
        resolve_model_path(recognition.detector.model, role="detector")
        resolve_model_path(recognition.recognizer.model, role="recognizer")
        return settings
    except ModelUnavailableError:
        pass
    try:
        from kartoteka_dev.fixtures import demo_recognition_settings
    except ImportError:  # an installed package: no checkout around it
        return settings
    demo = demo_recognition_settings()
    if demo is None:
        return settings
    detector, recognizer = demo
    print(
        f"kartoteka: no model configured and {recognition.recognizer.model} is not on this machine: reading with "
        f"the checkout's demo models (trained on synthetic cards), {detector['model']} and {recognizer['model']}",
        file=sys.stderr,
    )
    chosen = recognition.model_copy(
        update={
            "detector": recognition.detector.model_copy(update=detector),
            "recognizer": recognition.recognizer.model_copy(update=recognizer),
        }
    )
    return settings.model_copy(update={"recognition": chosen})


async def _recognize(settings: Settings, args: argparse.Namespace) -> int:
    from kartoteka.application.shared.models import ModelUnavailableError
    from kartoteka.di import CardRecognition, recognition_container
    from kartoteka.infrastructure.ml.runtime import DeviceUnavailableError
    from kartoteka.presentation.cli.recognize import print_transcripts

    container = recognition_container(settings)
    try:
        try:
            recognize = await container.get(CardRecognition)
        except (ModelUnavailableError, DeviceUnavailableError) as exc:
            print(f"kartoteka: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        return await print_transcripts(recognize, args.cards, args.format, sys.stdout, sys.stderr)
    finally:
        await container.close()


async def _evaluate(settings: Settings, args: argparse.Namespace) -> int:
    from kartoteka.application.recognition.evaluate import EvaluateRecognition, EvaluationSample
    from kartoteka.application.recognition.ground_truth import CorrectionsAsGroundTruth
    from kartoteka.application.shared.database import DatabaseUnavailableError
    from kartoteka.application.shared.models import ModelUnavailableError
    from kartoteka.application.shared.storage import StorageUnavailableError
    from kartoteka.di import CardRecognition, evaluation_container, recognition_container
    from kartoteka.infrastructure.ground_truth.directory import find_ground_truth, samples
    from kartoteka.infrastructure.ground_truth.xml_formats import GroundTruthError
    from kartoteka.infrastructure.ml.runtime import DeviceUnavailableError
    from kartoteka.presentation.cli.evaluate import TerminalProgress, print_json, print_table

    if args.from_corrections:
        container = evaluation_container(settings)
    else:
        try:
            pairs = find_ground_truth(args.directory)
        except GroundTruthError as exc:
            print(f"kartoteka: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        container = recognition_container(settings)
    try:
        try:
            recognize = await container.get(CardRecognition)
        except (ModelUnavailableError, DeviceUnavailableError) as exc:
            print(f"kartoteka: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        try:
            if args.from_corrections:
                corrected: AsyncIterator[EvaluationSample] = (await container.get(CorrectionsAsGroundTruth))()
                evaluation = await EvaluateRecognition(recognize)(corrected)
            else:
                progress = TerminalProgress(len(pairs), sys.stderr)
                evaluation = await EvaluateRecognition(recognize)(samples(pairs), progress)
        except GroundTruthError as exc:
            print(f"kartoteka: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        except (DatabaseUnavailableError, StorageUnavailableError) as exc:
            print(f"kartoteka: cannot read the corrections: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        if not evaluation.scores and args.from_corrections:
            print("kartoteka: no card's latest revision is a correction yet; nothing to measure", file=sys.stderr)
            return EXIT_CONFIG
        (print_json if args.format == "json" else print_table)(evaluation, max(args.worst, 0), sys.stdout)
        return 0
    finally:
        await container.close()


def _models(settings: Settings, args: argparse.Namespace) -> int:
    from kartoteka.infrastructure.ml.model_hub import ModelDownloadError, configured_models, locate, pull
    from kartoteka.presentation.cli.models import print_presence

    configured = configured_models(settings, with_onnx=args.onnx)
    if args.models_command == "list":
        print_presence([locate(m) for m in configured], args.format, sys.stdout)
        return 0
    wanted = args.models or [m.reference for m in configured if locate(m).problem and "/" in m.reference]
    failed = 0
    for reference in wanted:
        try:
            path = pull(reference, revision=args.revision, to=args.to)
        except ModelDownloadError as exc:
            print(f"kartoteka: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{reference}: {path}")
    if not wanted:
        print("every configured model is already here (kartoteka models list)")
    return EXIT_UNAVAILABLE if failed else 0


def _train(args: argparse.Namespace) -> int:
    """Training runs in this process, on the device asked for; the worker loads what it writes unchanged."""
    import torch

    from kartoteka.infrastructure.ml.runtime import available_cpus
    from kartoteka.infrastructure.ml.training.recognizer import TrainingDataError

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        print(f"kartoteka: --device {device}: no CUDA device is available here", file=sys.stderr)
        return EXIT_CONFIG
    torch.set_num_threads(args.threads or available_cpus())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        if args.train_command == "recognizer":
            from kartoteka.infrastructure.ml.training.recognizer import RecognizerTraining, train_recognizer

            data = args.data / "recognizer" if (args.data / "recognizer").is_dir() else args.data
            try:
                height, width = (int(v) for v in args.image_size.lower().split("x"))
                patch_height, patch_width = (int(v) for v in args.patch.lower().split("x"))
            except ValueError:
                print(f"kartoteka: --image-size {args.image_size}, --patch {args.patch}: expected HxW", file=sys.stderr)
                return EXIT_CONFIG
            job = RecognizerTraining(
                image_height=height,
                image_width=width,
                minutes=args.minutes,
                encoder=args.encoder,
                patch=(patch_height, patch_width),
                data=data,
                out=args.out,
                base=args.base,
                size=args.size,
                steps=args.steps,
                batch_size=args.batch_size,
                learning_rate=args.lr,
                eval_every=args.eval_every,
                ctc_weight=args.ctc_weight,
                precision=args.precision,
                device=device,
                seed=args.seed,
                resume=args.resume,
            )
            result = train_recognizer(job, lambda line: print(line, file=sys.stderr, flush=True))
            cer = "n/a" if result.validation_cer is None else f"{result.validation_cer:.4f}"
            print(f"{args.out}: {result.steps} steps in {result.seconds / 60:.1f} min, validation CER {cer}")
            return 0
        from kartoteka.infrastructure.ml.training.detector import DetectorTraining, train_detector

        data = args.data if args.data.suffix in {".yaml", ".yml"} else args.data / "detector" / "data.yaml"
        if not data.is_file() and (args.data / "data.yaml").is_file():
            data = args.data / "data.yaml"
        done = train_detector(
            DetectorTraining(
                data=data,
                out=args.out,
                base=args.base,
                epochs=args.epochs,
                imgsz=args.imgsz,
                batch_size=args.batch_size,
                device=device,
                threads=args.threads,
                onnx=args.onnx,
                seed=args.seed,
                minutes=args.minutes,
            )
        )
        figures = ", ".join(f"{k} {v:.4f}" for k, v in done.metrics.items() if "mAP" in k or "precision" in k)
        print(f"{done.model}: {done.epochs} epochs in {done.seconds / 60:.1f} min; {figures}")
        return 0
    except TrainingDataError as exc:
        print(f"kartoteka: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def _fonts_problem(fonts: Sequence[Path] | None) -> str | None:
    if not fonts:
        return None
    from kartoteka_dev.synthetic_cards import usable_fonts

    usable = set(usable_fonts(fonts))
    unusable = [str(f) for f in fonts if f not in usable]
    return f"--font {', '.join(unusable)}: not a font file that draws Russian text" if unusable else None


def _dataset_problem(args: argparse.Namespace) -> str | None:
    out: Path = args.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        return f"{out} is not an empty directory; a training set is written into a new one"
    if not 0 <= args.validation < 1:
        return "--validation is a share of the cards, at least 0 and below 1"
    if getattr(args, "cards", 1) < 1:
        return "--cards must be at least 1"
    return None


async def _dataset(settings: Settings, args: argparse.Namespace) -> int:
    from kartoteka.application.recognition.evaluate import EvaluationSample
    from kartoteka.application.recognition.ground_truth import CorrectionsAsGroundTruth
    from kartoteka.application.recognition.training_sets import BuildTrainingSet
    from kartoteka.application.shared.database import DatabaseUnavailableError
    from kartoteka.application.shared.images import UnreadableImageError
    from kartoteka.application.shared.storage import StorageUnavailableError
    from kartoteka.infrastructure.datasets.folder_writer import FolderTrainingSet
    from kartoteka.infrastructure.ground_truth.directory import find_ground_truth, samples
    from kartoteka.infrastructure.ground_truth.xml_formats import GroundTruthError
    from kartoteka.presentation.cli.datasets import print_summary

    out: Path = args.out
    build = BuildTrainingSet(FolderTrainingSet(out, settings.recognition.max_pixels), args.validation)
    if args.dataset_command == "synth":
        try:
            from kartoteka_dev.synthetic_samples import synthetic_samples
        except ModuleNotFoundError as exc:
            print(f"kartoteka: synthetic cards come with a checkout's developer tools ({exc})", file=sys.stderr)
            return EXIT_CONFIG
        problem = _fonts_problem(args.fonts)
        if problem:
            print(f"kartoteka: {problem}", file=sys.stderr)
            return EXIT_CONFIG
        cards = synthetic_samples(args.cards, args.seed, fonts=args.fonts, workers=max(1, args.workers))
        print_summary(await build(cards), out, sys.stdout)
        return 0
    try:
        if args.source is not None:
            print_summary(await build(samples(find_ground_truth(args.source))), out, sys.stdout)
            return 0
        from kartoteka.di import corrections_container  # the database and S3 stack, only for this source

        container = corrections_container(settings)
        try:
            corrected: AsyncIterator[EvaluationSample] = (await container.get(CorrectionsAsGroundTruth))()
            print_summary(await build(corrected), out, sys.stdout)
        finally:
            await container.close()
    except (GroundTruthError, UnreadableImageError) as exc:
        print(f"kartoteka: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (DatabaseUnavailableError, StorageUnavailableError) as exc:
        print(f"kartoteka: cannot read the corrections: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
