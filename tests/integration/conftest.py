"""Integration tests run against real servers; the fixtures live in the shared harness."""

from tests.harness.fixtures import *  # noqa: F403
