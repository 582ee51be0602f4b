"""YoloWordDetector on an untrained yolov8n built from its .yaml, loaded like the published model.pt."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kartoteka.application.shared.models import ModelUnavailableError
from kartoteka.domain.recognition.geometry import Box
from kartoteka.infrastructure.config.settings import DetectorSettings
from kartoteka.infrastructure.ml.model_files import resolve_model_path
from kartoteka.infrastructure.ml.runtime import Device
from kartoteka.infrastructure.ml.yolo_detector import YoloWordDetector, to_original_pixels

CPU = Device("cpu")


def settings(model: Path, **overrides: object) -> DetectorSettings:
    # An untrained detector scores every box near zero: accept them all to get boxes to check.
    values: dict[str, object] = {"model": str(model), "conf": 0.0, "imgsz": 320, "max_det": 50}
    values.update(overrides)
    return DetectorSettings.model_validate(values)


def card(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(11)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


def test_boxes_are_mapped_back_from_the_resized_card(tiny_detector: Path) -> None:
    original = card(640, 450)
    resized = original.resize((1280, 900), Image.Resampling.BILINEAR)
    with_resize = YoloWordDetector(settings(tiny_detector, input_width=1280, input_height=900), CPU)
    without = YoloWordDetector(settings(tiny_detector, input_width=None, input_height=None), CPU)
    mapped = with_resize.detect_sync(original)
    on_resized = without.detect_sync(resized)
    assert len(mapped) == len(on_resized) > 0
    for a, b in zip(mapped, on_resized, strict=True):
        assert a.box.as_tuple() == pytest.approx(b.box.scaled(0.5, 0.5).as_tuple(), abs=1e-3)
        assert a.confidence == pytest.approx(b.confidence)


async def test_detections_lie_on_the_original_card(tiny_detector: Path) -> None:
    detector = YoloWordDetector(settings(tiny_detector), CPU)
    image = card(2000, 1400)
    detections = await detector.detect(image)
    assert detections
    for d in detections:
        assert -1 <= d.box.x1 <= d.box.x2 <= image.width + 1
        assert -1 <= d.box.y1 <= d.box.y2 <= image.height + 1
        assert 0.0 <= d.confidence <= 1.0
    assert detector.identity.role == "detector"
    assert detector.identity.backend == "ultralytics"


def test_threshold_settings_are_applied(tiny_detector: Path) -> None:
    image = card(640, 450)
    few = YoloWordDetector(settings(tiny_detector, max_det=3), CPU).detect_sync(image)
    assert len(few) == 3
    strict = YoloWordDetector(settings(tiny_detector, conf=0.99), CPU).detect_sync(image)
    assert strict == []


def test_directory_with_model_pt_and_exported_onnx_both_load(tiny_detector: Path, tiny_detector_onnx: Path) -> None:
    from_dir = YoloWordDetector(settings(tiny_detector.parent), CPU)
    assert from_dir.identity.backend == "ultralytics"
    onnx = YoloWordDetector(settings(tiny_detector_onnx, input_width=None, input_height=None), CPU)
    assert onnx.identity.backend == "ultralytics-onnx"
    pt = YoloWordDetector(settings(tiny_detector, input_width=None, input_height=None), CPU)
    image = card(320, 320)
    a, b = pt.detect_sync(image), onnx.detect_sync(image)
    assert len(a) == len(b) > 0
    assert a[0].box.as_tuple() == pytest.approx(b[0].box.as_tuple(), abs=0.5)


def test_mapping_skips_non_finite_rows() -> None:
    xyxy = np.array([[10, 20, 30, 40], [np.nan, 0, 1, 1]], dtype=np.float64)
    conf = np.array([0.5, 0.9], dtype=np.float64)
    assert [d.box for d in to_original_pixels(xyxy, conf, 2.0, 3.0)] == [Box(20, 60, 60, 120)]


def test_missing_and_broken_weights_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        YoloWordDetector(settings(tmp_path / "nothing.pt"), CPU)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailableError, match=r"broken\.pt.*cannot be loaded"):
        YoloWordDetector(settings(broken), CPU)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(ModelUnavailableError, match=r"has no 'model\.pt'"):
        YoloWordDetector(settings(empty_dir), CPU)


def test_hub_id_resolves_from_the_local_hub_cache(
    tiny_detector: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lay the file out as huggingface_hub caches a download of Daniil-Domino/yolo11x-dialectic.
    repo = tmp_path / "models--Daniil-Domino--yolo11x-dialectic"
    snapshot = repo / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123456789abcdef0123456789abcdef01234567")
    shutil.copy(tiny_detector, snapshot / "model.pt")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert resolve_model_path("Daniil-Domino/yolo11x-dialectic", role="detector") == snapshot
    detector = YoloWordDetector(DetectorSettings(conf=0.0, imgsz=320), CPU)
    assert detector.identity.name == "Daniil-Domino/yolo11x-dialectic"
    assert detector.identity.revision == "0123456789ab"


def test_detection_on_cpu_leaves_torch_thread_count_as_configured(tiny_detector: Path) -> None:
    import torch

    from kartoteka.infrastructure.config.settings import InferenceSettings
    from kartoteka.infrastructure.ml.runtime import resolve_device

    device = resolve_device(InferenceSettings(device="cpu"))
    configured = torch.get_num_threads()
    detector = YoloWordDetector(settings(tiny_detector), device)
    torch.set_num_threads(configured)
    detector.detect_sync(card(320, 240))
    # ultralytics sets cpu_count - 1 threads on every CPU predict; the recogniser must not inherit that.
    assert torch.get_num_threads() == configured


def test_the_detector_runs_on_its_share_of_the_cores_and_then_leaves_the_configured_count(
    tiny_detector: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from kartoteka.infrastructure.ml import runtime

    # As configure_torch_threads leaves them on a two-core machine (it runs once per process).
    monkeypatch.setattr(runtime, "_configured_threads", 2)
    monkeypatch.setattr(runtime, "_detector_threads", 1)
    torch.set_num_threads(2)
    detector = YoloWordDetector(settings(tiny_detector), CPU)
    model = detector._model
    real_predict = model.predict
    seen: list[int] = []

    def predict(*args: object, **kwargs: object) -> object:
        seen.append(torch.get_num_threads())
        return real_predict(*args, **kwargs)

    monkeypatch.setattr(model, "predict", predict)
    detector.detect_sync(card(320, 240))
    detector.detect_sync(card(320, 240))
    assert seen == [1, 1]  # while the recogniser, reading another card, keeps the other core
    assert torch.get_num_threads() == 2
