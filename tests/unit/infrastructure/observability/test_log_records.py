"""Log lines in text and JSON carry the card's id, and access lines never carry a credential."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from kartoteka.application.shared.log_context import log_context
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.observability.log_records import configure_logging, redact
from kartoteka.runtime.api import uvicorn_config


@pytest.fixture
def stderr() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield io.StringIO()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_json_lines_carry_the_bound_ids_and_the_exception(stderr: io.StringIO) -> None:
    configure_logging("json", stream=stderr)
    log = logging.getLogger("kartoteka.worker")
    with log_context(task_id="0b6f2a52", batch_id=None):
        log.info("read %d words", 12)
        try:
            raise ValueError("bad crop")
        except ValueError:
            log.exception("failed")
    log.info("between cards")
    first, second, third = (json.loads(line) for line in stderr.getvalue().splitlines())
    assert first["message"] == "read 12 words"
    assert (first["task_id"], first["level"], first["logger"]) == ("0b6f2a52", "INFO", "kartoteka.worker")
    assert "batch_id" not in first
    assert "ValueError: bad crop" in second["exception"]
    assert "task_id" not in third


def test_text_lines_name_the_card_too(stderr: io.StringIO) -> None:
    configure_logging("text", "WARNING", stream=stderr)
    with log_context(image_id="42"):
        logging.getLogger("kartoteka.gallery").warning("unreadable")
        logging.getLogger("kartoteka.gallery").info("not shown below WARNING")
    [line] = stderr.getvalue().splitlines()
    assert line.endswith("WARNING kartoteka.gallery [image_id=42]: unreadable")


def test_access_lines_lose_credential_values_and_keep_the_rest(stderr: io.StringIO) -> None:
    configure_logging("json", stream=stderr)
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/api/x?token=abc&page=2&session_id=s1", "1.1", 200)
    [line] = stderr.getvalue().splitlines()
    message = json.loads(line)["message"]
    assert message == '127.0.0.1:5000 - "GET /api/x?token=***&page=2&session_id=*** HTTP/1.1" 200'
    assert redact("/verify?code=123456") == "/verify?code=***"


def test_the_api_server_leaves_its_records_to_the_process_logging() -> None:
    config = uvicorn_config(object(), Settings.model_validate({"logging": {"level": "WARNING"}}))
    assert config.log_config is None
    assert config.log_level == "warning"
