"""A skip is a failure where every prerequisite is installed (``KARTOTEKA_NO_SKIPS=1``).

`make test` (and so CI) sets it: there bootstrap installs every server, font and package a test
needs, so a skip means a missing prerequisite, and it fails the run instead of passing unseen.
A developer's partial machine may still skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("KARTOTEKA_NO_SKIPS") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped where nothing may be skipped (KARTOTEKA_NO_SKIPS=1): {reason}"
