"""The fault matrix: each scenario of ``test_faults.py`` adds its row; the session prints them all.

The table is what an operator asks of a fault: how many cards were submitted and acknowledged, how many
requests the client had to send again (same Idempotency-Key), how many cards ended completed, failed or
made or read twice, how many objects were left that nothing refers to, and how long after the fault
ended the first card completed again (recovery) and the last one settled. It is printed in the terminal
summary and written to ``var/faults/matrix.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True, slots=True)
class Row:
    scenario: str
    submitted: int
    accepted: int
    resent: int
    completed: int
    failed: int
    duplicated: int
    orphans: int
    recover_s: float | None
    settled_s: float

    def cells(self) -> list[str]:
        recover = "-" if self.recover_s is None else f"{self.recover_s:.1f}"
        return [
            self.scenario,
            str(self.submitted),
            str(self.accepted),
            str(self.resent),
            str(self.completed),
            str(self.failed),
            str(self.duplicated),
            str(self.orphans),
            recover,
            f"{self.settled_s:.1f}",
        ]


HEADER = [
    "scenario", "submitted", "accepted", "requests resent", "completed", "failed", "duplicated",
    "orphan objects", "recover s", "settled s",
]  # fmt: skip


@dataclass
class Matrix:
    rows: list[Row] = field(default_factory=list)

    def markdown(self) -> str:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(row.cells()) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


MATRIX = Matrix()


@pytest.fixture(scope="session")
def fault_matrix() -> Matrix:
    return MATRIX


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not MATRIX.rows:
        return
    terminalreporter.section("fault matrix")
    terminalreporter.write(MATRIX.markdown())
    out = ROOT / "var" / "faults" / "matrix.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(MATRIX.markdown(), encoding="utf-8")
    terminalreporter.write_line(f"written to {out}")
