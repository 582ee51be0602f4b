"""The ``kartoteka`` console script: parse the command, load settings, build the container, run."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from kartoteka.infrastructure.config.settings import ConfigurationError, Settings, load_settings
from kartoteka.infrastructure.ml.offline import prepare_offline_environment
from kartoteka.presentation.cli.parser import build_parser

EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    prepare_offline_environment()
    if args.command == "dev":
        from kartoteka.devtools.fixtures import write_fixtures

        write_fixtures(args.directory, cards=args.cards, onnx=args.onnx)
        return 0
    try:
        settings = load_settings(args.config)
    except ConfigurationError as exc:
        print(f"kartoteka: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "recognize":
        return asyncio.run(_recognize(settings, args))
    raise AssertionError(f"unhandled command {args.command}")


async def _recognize(settings: Settings, args: argparse.Namespace) -> int:
    from kartoteka.di import CardRecognition, recognition_container
    from kartoteka.domain.recognition.errors import ModelUnavailableError
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


if __name__ == "__main__":
    sys.exit(main())
