"""Under `make test` a skipped test fails the run (tests.harness.no_skips)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

QUIET = ("-o", "asyncio_default_fixture_loop_scope=function")
SKIPPING = """
import pytest

def test_needs_something_missing():
    pytest.skip("rabbitmq-server is not installed")
"""


def test_a_skip_fails_when_no_skips_are_allowed(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(SKIPPING)
    monkeypatch.setenv("KARTOTEKA_NO_SKIPS", "1")
    result = pytester.runpytest_inprocess("-p", "tests.harness.no_skips", *QUIET)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*skipped where nothing may be skipped*rabbitmq-server is not installed*"])


def test_a_skip_stays_a_skip_on_a_developer_machine(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(SKIPPING)
    monkeypatch.delenv("KARTOTEKA_NO_SKIPS", raising=False)
    pytester.runpytest_inprocess("-p", "tests.harness.no_skips", *QUIET).assert_outcomes(skipped=1)
