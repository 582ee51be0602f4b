"""``kartoteka recognize``: print transcripts of local card files, no servers needed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from kartoteka.application.recognition.recognize_card import RecognizeCard
from kartoteka.application.shared.images import UnreadableImageError

EXIT_OK = 0
EXIT_SOME_FAILED = 1


async def print_transcripts(
    recognize: RecognizeCard[Any],
    cards: Sequence[Path],
    fmt: str,
    out: TextIO,
    err: TextIO,
) -> int:
    """Recognise each card in turn; a bad card is reported and skipped, not fatal to the rest."""
    code = EXIT_OK
    results: list[dict[str, Any]] = []
    for card in cards:
        try:
            transcript = await recognize(card.read_bytes())
        except OSError as exc:
            print(f"kartoteka: {card}: cannot read: {exc.strerror or exc}", file=err)
            code = EXIT_SOME_FAILED
            continue
        except UnreadableImageError as exc:
            print(f"kartoteka: {card}: {exc}", file=err)
            code = EXIT_SOME_FAILED
            continue
        if fmt == "txt":
            print(f"== {card}", file=out)
            print(transcript.text, file=out)
        else:
            results.append({"file": str(card), "transcript": transcript.to_dict()})
    if fmt == "json":
        json.dump(results, out, ensure_ascii=False, indent=2)
        print(file=out)
    return code
