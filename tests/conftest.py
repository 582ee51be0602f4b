"""Session-wide test setup: offline model environment and tiny models built once.

The offline variables must be in place before transformers or ultralytics is
imported anywhere, so they are set at collection time, here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_YOLO_DIR = Path(tempfile.mkdtemp(prefix="kartoteka-yolo-"))
os.environ["YOLO_CONFIG_DIR"] = str(_YOLO_DIR)

from kartoteka.infrastructure.ml.offline import prepare_offline_environment  # noqa: E402

prepare_offline_environment()

# Real-server fixtures (PostgreSQL, RabbitMQ, Redis, S3, SMTP), started only when a test asks.
pytest_plugins = ["tests.harness.fixtures", "tests.harness.database", "tests.harness.no_skips"]


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_detector(tiny_models_dir: Path) -> Path:
    """An untrained yolov8n saved as the hub checkpoint is laid out (``model.pt``)."""
    from kartoteka_dev.tiny_models import build_tiny_detector

    return build_tiny_detector(tiny_models_dir / "yolo")


@pytest.fixture(scope="session")
def tiny_recognizer(tiny_models_dir: Path) -> Path:
    from kartoteka_dev.tiny_models import build_tiny_recognizer

    return build_tiny_recognizer(tiny_models_dir / "trocr")


@pytest.fixture(scope="session")
def tiny_recognizer_onnx(tiny_recognizer: Path, tiny_models_dir: Path) -> Path:
    from kartoteka_dev.tiny_models import export_recognizer_onnx

    return export_recognizer_onnx(tiny_recognizer, tiny_models_dir / "trocr-onnx")


@pytest.fixture(scope="session")
def tiny_detector_onnx(tiny_detector: Path) -> Path:
    from kartoteka_dev.tiny_models import export_detector_onnx

    return export_detector_onnx(tiny_detector, imgsz=320)


@pytest.fixture(scope="session", autouse=True)
def _remove_yolo_dir() -> Iterator[None]:
    yield
    import shutil

    shutil.rmtree(_YOLO_DIR, ignore_errors=True)
