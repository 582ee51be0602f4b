"""Train the word detector with ultralytics on a ``kartoteka dataset`` YOLO set.

ultralytics sets torch to ``cpu_count - 1`` threads whenever it touches the
CPU, which on a two-core machine is one: the thread count is put back before
every batch, as the detector adapter does after every prediction. The run's
working files stay under ``OUT/runs``; ``OUT/model.pt`` (and ``model.onnx``
with ``onnx``) is the checkpoint the worker loads.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kartoteka.infrastructure.ml.runtime import available_cpus
from kartoteka.infrastructure.ml.training.recognizer import TrainingDataError


@dataclass(frozen=True, slots=True)
class DetectorTraining:
    data: Path  # a dataset's detector/data.yaml
    out: Path
    base: str = "yolo11n.yaml"  # an architecture (.yaml, built untrained) or a .pt checkpoint to fine-tune
    epochs: int = 50
    imgsz: int = 640
    batch_size: int = 8
    device: str = "cpu"
    threads: int | None = None
    onnx: bool = False
    seed: int = 0
    minutes: float | None = None  # a time budget that replaces ``epochs`` (ultralytics fits its schedule to it)


@dataclass(frozen=True, slots=True)
class DetectorReport:
    model: Path
    onnx: Path | None
    epochs: int
    seconds: float
    metrics: dict[str, float]


def train_detector(job: DetectorTraining) -> DetectorReport:
    import torch
    from ultralytics import YOLO

    if not job.data.is_file():
        raise TrainingDataError(f"{job.data}: no data.yaml there (run kartoteka dataset)")
    if not job.base.endswith((".yaml", ".yml")) and not Path(job.base).is_file():
        raise TrainingDataError(f"{job.base}: neither an architecture .yaml nor a checkpoint file")
    threads = job.threads or available_cpus()

    def keep_threads(_: Any) -> None:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    torch.set_num_threads(threads)
    model = YOLO(job.base, task="detect")
    for event in ("on_train_start", "on_train_batch_start", "on_val_start"):
        model.add_callback(event, keep_threads)
    started = time.monotonic()
    job.out.mkdir(parents=True, exist_ok=True)
    model.train(
        data=str(job.data.absolute()),
        epochs=job.epochs,
        **({"time": job.minutes / 60} if job.minutes else {}),
        imgsz=job.imgsz,
        batch=job.batch_size,
        device=job.device,
        # Loading in the training process suits a few cores; a GPU is starved without loader processes.
        workers=0 if job.device == "cpu" else min(8, max(1, available_cpus() - 2)),
        seed=job.seed,
        project=str((job.out / "runs").absolute()),
        name="train",
        exist_ok=True,
        plots=False,
        # ultralytics checks AMP by downloading a checkpoint, which no offline machine can; a nano
        # detector trains fast enough in fp32 (TF32 on a GPU).
        amp=False,
        verbose=False,
    )
    trainer = model.trainer
    best = Path(str(trainer.best)) if trainer is not None and Path(str(trainer.best)).is_file() else None
    if best is None:
        raise TrainingDataError("ultralytics finished without a checkpoint; see the log above")
    target = job.out / "model.pt"
    shutil.copyfile(best, target)
    metrics = {k: float(v) for k, v in (getattr(trainer, "metrics", None) or {}).items()}
    epochs = int(getattr(trainer, "epoch", job.epochs - 1)) + 1
    onnx = None
    if job.onnx:
        exported = YOLO(str(target), task="detect").export(format="onnx", imgsz=job.imgsz, simplify=False)
        onnx = job.out / "model.onnx"
        if Path(str(exported)) != onnx:
            shutil.move(str(exported), onnx)
    return DetectorReport(target, onnx, epochs, time.monotonic() - started, metrics)
