"""``kartoteka eval``: the figures of a ground-truth run, as a table for people or JSON for scripts."""

from __future__ import annotations

import json
from typing import Any, TextIO

from kartoteka.application.recognition.evaluate import Evaluation


def evaluation_json(evaluation: Evaluation, worst: int) -> dict[str, Any]:
    """The stable JSON form; the first eight keys are what scripts and CI compare across runs."""
    summary = evaluation.summary
    return {
        "cer": summary.cer,
        "wer": summary.wer,
        "stress_accuracy": summary.stress.accuracy,
        "detection_f1": summary.detection.f1,
        "line_accuracy": summary.line_accuracy,
        "cards": summary.cards,
        "words_per_s": evaluation.words_per_s,
        "models": [
            {"role": m.role, "name": m.name, "revision": m.revision, "backend": m.backend} for m in evaluation.models
        ],
        "cer_folded": summary.cer_folded,
        "wer_folded": summary.wer_folded,
        "cards_per_s": evaluation.cards_per_s,
        "stress": {
            "right": summary.stress.right,
            "missing": summary.stress.missing,
            "extra": summary.stress.extra,
            "wrong_letter": summary.stress.wrong_letter,
        },
        "detection": {
            "precision": summary.detection.precision,
            "recall": summary.detection.recall,
            "matched": summary.detection.matched,
            "predicted": summary.detection.predicted,
            "expected": summary.detection.expected,
        },
        "worst": [
            {"card": s.name, "cer": s.cer, "reference": s.reference, "reading": s.hypothesis}
            for s in evaluation.worst(worst)
        ],
        "failed": [{"card": name, "error": why} for name, why in evaluation.failed],
    }


def print_table(evaluation: Evaluation, worst: int, out: TextIO) -> None:
    summary = evaluation.summary
    stress, detection = summary.stress, summary.detection
    rows = [
        ("cards", f"{summary.cards}" + (f" ({len(evaluation.failed)} unreadable)" if evaluation.failed else "")),
        ("CER", f"{summary.cer:.4f}   folded (case, stress): {summary.cer_folded:.4f}"),
        ("WER", f"{summary.wer:.4f}   folded (case, stress): {summary.wer_folded:.4f}"),
        (
            "stress marks",
            f"{stress.accuracy:.4f}   right {stress.right}, missing {stress.missing}, "
            f"extra {stress.extra}, wrong letter {stress.wrong_letter}",
        ),
        (
            "word detection",
            f"F1 {detection.f1:.4f}   precision {detection.precision:.4f}, recall {detection.recall:.4f} "
            f"(IoU >= 0.5; {detection.matched} of {detection.expected} words, {detection.predicted} boxes)",
        ),
        ("line grouping", f"{summary.line_accuracy:.4f}   words on the right line, in order"),
        ("throughput", f"{evaluation.cards_per_s:.2f} cards/s, {evaluation.words_per_s:.1f} words/s"),
    ]
    rows += [(f"model ({m.role})", f"{m.name} {m.revision} {m.backend}".rstrip()) for m in evaluation.models]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}", file=out)
    cards = evaluation.worst(worst)
    if cards:
        print(f"\nworst {len(cards)} by CER:", file=out)
        for score in cards:
            print(f"  {score.cer:.3f}  {score.name}", file=out)
            print(f"         truth:   {score.reference.replace(chr(10), ' / ')}", file=out)
            print(f"         reading: {score.hypothesis.replace(chr(10), ' / ')}", file=out)
    for name, why in evaluation.failed:
        print(f"unreadable: {name}: {why}", file=out)


def print_json(evaluation: Evaluation, worst: int, out: TextIO) -> None:
    json.dump(evaluation_json(evaluation, worst), out, ensure_ascii=False, indent=2)
    print(file=out)


class TerminalProgress:
    """A one-line progress bar on a terminal; silent when the stream is not one (pipes, CI logs)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self._total = total
        self._stream = stream
        self._active = stream.isatty()

    def __call__(self, done: int, card: str) -> None:
        if not self._active:
            return
        filled = int(30 * done / self._total) if self._total else 30
        self._stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self._total} {card[:40]:<40}")
        if done >= self._total:
            self._stream.write("\n")
        self._stream.flush()
