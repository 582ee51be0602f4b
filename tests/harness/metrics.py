"""Reading a process's Prometheus metrics the way Prometheus does: over HTTP, in the text format."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and label set."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    """One sample's value, or None when the exposition has no such series."""
    return samples(text).get((name, frozenset(labels.items())))


def scrape(url: str) -> str:
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    return response.text


def scrape_or_empty(url: str) -> str:
    """The exposition, or nothing while the process is not serving it yet."""
    try:
        return scrape(url)
    except httpx.HTTPError:
        return ""
