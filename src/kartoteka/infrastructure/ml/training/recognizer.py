"""Fine-tune a TrOCR checkpoint, or train a small one from scratch, on a ``kartoteka dataset`` set.

The result is a ``save_pretrained`` directory like a published checkpoint
(model, processor with tokenizer, generation config) plus a model card with
the figures it reached, so the worker loads it unchanged and a reader knows
what it is. Validation is the character error rate of greedy decoding on the
validation cards' words, computed by the same metric ``kartoteka eval`` uses.
A checkpoint is written as training goes, and ``resume`` continues from it
with the optimizer, schedule and step where they were.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from kartoteka.domain.recognition.quality import edit_distance
from kartoteka.domain.recognition.text import normalize_text
from kartoteka.infrastructure.ml.training.char_tokenizer import build_char_tokenizer
from kartoteka.infrastructure.ml.training.ctc_alignment import build_ctc_head, ctc_loss, encoder_grid

SCRATCH = "scratch"
#: Encoder and decoder widths, depths and heads of the models ``--base scratch`` builds.
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"hidden": 64, "layers": 2, "heads": 2},
    "small": {"hidden": 192, "layers": 4, "heads": 4},
}
CHECKPOINT = "checkpoint"


class TrainingDataError(ValueError):
    """The training set is missing or unusable; the message says which file and why."""


@dataclass(frozen=True, slots=True)
class RecognizerTraining:
    data: Path  # a dataset's recognizer/ directory (train/ and validation/ with metadata.jsonl)
    out: Path
    base: str = SCRATCH  # a checkpoint directory, or "scratch"
    size: str = "small"
    encoder: str = "vit"  # from scratch: vit (patches of ``patch`` px) or swin (windowed, two stages)
    patch: tuple[int, int] = (8, 8)  # a ViT's patch height and width; (image height, 4) reads the word in columns
    image_height: int = 32
    image_width: int = 128
    steps: int = 2000
    batch_size: int = 32
    learning_rate: float = 5e-4
    warmup_steps: int = 100
    eval_every: int = 250
    eval_words: int = 256
    max_length: int = 32
    precision: str = "fp32"  # fp32, bf16 (CPU or CUDA), fp16 (CUDA)
    device: str = "cpu"
    seed: int = 0
    resume: bool = False
    minutes: float | None = None  # a time budget: the schedule runs by the clock and training stops when it is spent
    ctc_weight: float = 0.5  # weight of the auxiliary CTC loss on the encoder (ctc_alignment); 0 turns it off


@dataclass(slots=True)
class TrainingReport:
    steps: int
    seconds: float
    train_words: int
    validation_words: int
    validation_cer: float | None
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Example:
    image: Path
    text: str


def read_split(directory: Path) -> list[_Example]:
    metadata = directory / "metadata.jsonl"
    if not metadata.is_file():
        return []
    examples = []
    for number, line in enumerate(metadata.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
            examples.append(_Example(directory / record["file_name"], normalize_text(record["text"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise TrainingDataError(f"{metadata}:{number}: not a {{file_name, text}} record: {exc}") from exc
    return [e for e in examples if e.text]


def train_recognizer(job: RecognizerTraining, report: Callable[[str], None]) -> TrainingReport:
    import torch

    train = read_split(job.data / "train")
    validation = read_split(job.data / "validation")
    if not train:
        raise TrainingDataError(f"{job.data / 'train' / 'metadata.jsonl'}: no training words (run kartoteka dataset)")
    if job.precision == "fp16" and job.device == "cpu":
        raise TrainingDataError("fp16 training needs a CUDA device; use bf16 or fp32 on the CPU")
    random.seed(job.seed)
    torch.manual_seed(job.seed)
    checkpoint = job.out / CHECKPOINT
    resuming = job.resume and (checkpoint / "state.pt").is_file()
    model, processor = _load_or_build(checkpoint if resuming else job.base, job, [e.text for e in train])
    model.to(job.device)
    tokenizer = processor.tokenizer
    ctc_head = _ctc_head(model, processor, job)
    trained = [*model.parameters(), *(ctc_head.parameters() if ctc_head is not None else ())]
    optimizer = torch.optim.AdamW(trained, lr=job.learning_rate, weight_decay=0.01)
    started = time.monotonic()
    clock = _Budget(job, started)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _warmup_then_cosine(step, job, clock))
    step = 0
    history: list[dict[str, float]] = []
    if resuming:
        state = torch.load(checkpoint / "state.pt", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step, history = state["step"], state["history"]
        random.setstate(state["python_rng"])
        if ctc_head is not None and state.get("ctc_head") is not None:
            ctc_head.load_state_dict(state["ctc_head"])
        report(f"resumed at step {step} from {checkpoint}")
    scaler = torch.amp.GradScaler("cuda") if job.precision == "fp16" else None
    not_characters = {tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id}
    pixels_of = _PixelCache(processor, train)
    cer: float | None = None
    running: list[float] = []
    running_ctc: list[float] = []
    model.train()
    while step < job.steps and not clock.spent():
        batch = random.sample(train, min(job.batch_size, len(train)))
        pixels = _augment(pixels_of(batch).to(job.device))
        labels = _labels(tokenizer, [e.text for e in batch], job.max_length).to(job.device)
        with _autocast(job):
            output = model(pixel_values=pixels, decoder_input_ids=_decoder_inputs(model, labels))
            decoder_loss = _next_token_loss(output.logits, labels)
            loss = decoder_loss
            if ctc_head is not None:
                aligned = ctc_loss(
                    ctc_head, output.encoder_last_hidden_state, labels, tokenizer.pad_token_id, not_characters
                )
                running_ctc.append(float(aligned.item()))
                loss = loss + job.ctc_weight * aligned
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        schedule.step()
        step += 1
        running.append(float(decoder_loss.item()))  # comparable with or without CTC
        if step % job.eval_every == 0 or step == job.steps or clock.spent():
            cer = validation_cer(model, processor, validation, job) if validation else None
            mean_loss = sum(running) / len(running)
            point = {"step": step, "loss": mean_loss}
            if running_ctc:
                point["ctc_loss"] = sum(running_ctc) / len(running_ctc)
            if cer is not None:
                point["validation_cer"] = cer
            history.append(point)
            running.clear()
            running_ctc.clear()
            _save_checkpoint(checkpoint, model, processor, optimizer, schedule, step, history, ctc_head)
            shown = f"  CTC {point['ctc_loss']:.4f}" if "ctc_loss" in point else ""
            shown += f", validation CER {cer:.4f}" if cer is not None else ""
            report(
                f"step {step}/{clock.planned(step)}  loss {mean_loss:.4f}{shown}  ({time.monotonic() - started:.0f} s)"
            )
    seconds = time.monotonic() - started
    result = TrainingReport(step, seconds, len(train), len(validation), cer, history)
    _save_final(job, model, processor, result)
    shutil.rmtree(checkpoint, ignore_errors=True)
    return result


def _ctc_head(model: Any, processor: Any, job: RecognizerTraining) -> Any:
    if job.ctc_weight <= 0:
        return None
    size = processor.image_processor.size  # a base checkpoint's own input size, not --image-size
    rows, columns = encoder_grid(model.config.encoder, int(size["height"]), int(size["width"]))
    if rows < 1 or columns < 2:
        raise TrainingDataError(f"input {size['height']}x{size['width']} is too small for the CTC loss")
    return build_ctc_head(model.encoder.config.hidden_size, rows, len(processor.tokenizer)).to(job.device)


def validation_cer(model: Any, processor: Any, examples: Sequence[_Example], job: RecognizerTraining) -> float:
    """Greedy decoding of up to ``eval_words`` validation words; errors over reference characters."""
    import torch

    chosen = list(examples[: job.eval_words])
    errors = chars = 0
    model.eval()
    with torch.inference_mode(), _autocast(job):
        for start in range(0, len(chosen), job.batch_size):
            part = chosen[start : start + job.batch_size]
            generated = model.generate(
                _pixels(processor, [e.image for e in part]).to(job.device), num_beams=1, max_length=job.max_length
            )
            texts = processor.tokenizer.batch_decode(generated, skip_special_tokens=True)
            for example, text in zip(part, texts, strict=True):
                errors += edit_distance(example.text, normalize_text(text))
                chars += len(example.text)
    model.train()
    return errors / chars if chars else 0.0


class _Budget:
    """How far training is: by steps, or by the clock when ``minutes`` is set (whichever ends first)."""

    def __init__(self, job: RecognizerTraining, started: float) -> None:
        self._job = job
        self._ends = started + job.minutes * 60 if job.minutes else None
        self._started = started

    def spent(self) -> bool:
        return self._ends is not None and time.monotonic() >= self._ends

    def progress(self, step: int) -> float:
        job = self._job
        by_steps = (step - job.warmup_steps) / max(1, job.steps - job.warmup_steps)
        if self._ends is None:
            return by_steps
        by_clock = (time.monotonic() - self._started) / (self._ends - self._started)
        return max(by_steps, by_clock)

    def planned(self, step: int) -> str:
        if self._ends is None:
            return str(self._job.steps)
        return f"{self._job.steps} or {self._job.minutes:g} min"


def _warmup_then_cosine(step: int, job: RecognizerTraining, clock: _Budget) -> float:
    if step < job.warmup_steps:
        return (step + 1) / job.warmup_steps
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, clock.progress(step))))


def _augment(pixels: Any) -> Any:
    """A little shift, scale, tilt and contrast change per word, so many epochs over one set do not memorise it.

    Kept within what the detector's boxes vary by: a few per cent of the
    crop's width, a degree or two, and more of its height (a detector's box
    may reach a tenth higher or lower than the true one, and a mark above a
    letter must read the same either way); done on the batch's device, where
    it costs next to nothing.
    """
    import torch
    import torch.nn.functional as F

    n = pixels.shape[0]
    device = pixels.device
    scale = torch.empty(n, device=device).uniform_(0.92, 1.06)
    tall = torch.empty(n, device=device).uniform_(0.92, 1.25)  # the box's height: a little tighter to much looser
    angle = torch.empty(n, device=device).uniform_(-0.03, 0.03)
    shear = torch.empty(n, device=device).uniform_(-0.1, 0.1)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = scale * torch.cos(angle)
    theta[:, 0, 1] = -torch.sin(angle) + shear
    theta[:, 1, 0] = torch.sin(angle)
    theta[:, 1, 1] = tall * torch.cos(angle)
    theta[:, 0, 2] = torch.empty(n, device=device).uniform_(-0.04, 0.04)
    theta[:, 1, 2] = torch.empty(n, device=device).uniform_(-0.12, 0.12)
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    moved = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast = torch.empty(n, 1, 1, 1, device=device).uniform_(0.75, 1.15)
    brightness = torch.empty(n, 1, 1, 1, device=device).uniform_(-0.12, 0.12)
    return (moved * contrast + brightness).clamp(-1.0, 1.0)


class _PixelCache:
    """Each training word's pixels, prepared by the processor once and kept while they fit in memory.

    Decoding and resizing a crop costs more than a small model's training step
    on a GPU; sets beyond ``limit_bytes`` are prepared batch by batch instead.
    """

    def __init__(self, processor: Any, examples: Sequence[_Example], limit_bytes: int = 4 << 30) -> None:
        self._processor = processor
        self._kept: dict[Path, Any] = {}
        size = processor.image_processor.size
        self._keep = len(examples) * 3 * int(size["height"]) * int(size["width"]) * 2 <= limit_bytes

    def __call__(self, batch: Sequence[_Example]) -> Any:
        import torch

        if not self._keep:
            return _pixels(self._processor, [e.image for e in batch])
        missing = [e.image for e in batch if e.image not in self._kept]
        if missing:
            fresh = _pixels(self._processor, missing).to(torch.float16)
            self._kept.update(zip(missing, fresh, strict=True))
        return torch.stack([self._kept[e.image] for e in batch]).float()


def _autocast(job: RecognizerTraining) -> Any:
    import contextlib

    import torch

    if job.precision == "bf16":
        return torch.autocast(device_type="cuda" if job.device.startswith("cuda") else "cpu", dtype=torch.bfloat16)
    if job.precision == "fp16":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def _pixels(processor: Any, paths: Sequence[Path]) -> Any:
    images = []
    for path in paths:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return processor(images=images, return_tensors="pt").pixel_values


def _decoder_inputs(model: Any, labels: Any) -> Any:
    """``<s>`` then the labels, one place to the right: what the decoder sees while it predicts each label."""
    from transformers.models.vision_encoder_decoder.modeling_vision_encoder_decoder import shift_tokens_right

    return shift_tokens_right(labels, model.config.pad_token_id, model.config.decoder_start_token_id)


def _next_token_loss(logits: Any, labels: Any) -> Any:
    """Cross-entropy of each position's logits against the label at that same position.

    Computed here rather than taken from the model: VisionEncoderDecoder in
    transformers 4.5x scores its logits with the causal-LM loss, which shifts
    the labels a second time, so a model trained on it learns to predict the
    character after next and drops every word's first letter.
    """
    import torch.nn.functional as F

    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def _labels(tokenizer: Any, texts: Sequence[str], max_length: int) -> Any:
    """Token ids then ``</s>``, padded with -100 (ignored by the loss); the decoder starts from ``<s>`` itself."""
    import torch

    eos = tokenizer.eos_token_id
    rows = [[*tokenizer(t, add_special_tokens=False).input_ids[: max_length - 1], eos] for t in texts]
    width = max(len(r) for r in rows)
    return torch.tensor([r + [-100] * (width - len(r)) for r in rows])


def _load_or_build(base: str | Path, job: RecognizerTraining, texts: Sequence[str]) -> tuple[Any, Any]:
    from transformers import TrOCRProcessor, VisionEncoderDecoderModel

    if str(base) == SCRATCH:
        return _build(job, texts)
    path = Path(base)
    if not (path / "config.json").is_file():
        raise TrainingDataError(f"{path}: no checkpoint there (a save_pretrained directory with config.json)")
    return VisionEncoderDecoderModel.from_pretrained(str(path)), TrOCRProcessor.from_pretrained(str(path))


def _build(job: RecognizerTraining, texts: Sequence[str]) -> tuple[Any, Any]:
    """A ViT encoder and a TrOCR decoder of the size asked for, with a character tokenizer."""
    from transformers import (
        SwinConfig,
        TrOCRConfig,
        TrOCRProcessor,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    if job.size not in SIZES:
        raise TrainingDataError(f"unknown model size {job.size!r}; one of {', '.join(SIZES)}")
    if job.image_height % 8 or job.image_width % 8:
        raise TrainingDataError(f"image size {job.image_height}x{job.image_width}: both sides must be multiples of 8")
    if job.encoder == "vit" and (job.image_height % job.patch[0] or job.image_width % job.patch[1]):
        raise TrainingDataError(
            f"patch {job.patch[0]}x{job.patch[1]} does not tile the image size {job.image_height}x{job.image_width}"
        )
    size = SIZES[job.size]
    tokenizer = build_char_tokenizer(texts)
    encoder: Any
    if job.encoder == "swin":
        # Two stages of windowed attention over 4-pixel patches, merged once: the locality a convolutional
        # reader has, which a plain ViT must learn from far more words than a CPU can show it in an hour.
        encoder = SwinConfig(
            image_size=(job.image_height, job.image_width),
            patch_size=4,
            embed_dim=size["hidden"] // 2,
            depths=[2, max(2, size["layers"] - 2)],
            num_heads=[max(1, size["heads"] // 2), size["heads"]],
            window_size=4,
        )
    elif job.encoder == "vit":
        encoder = ViTConfig(
            image_size=(job.image_height, job.image_width),
            patch_size=list(job.patch) if job.patch[0] != job.patch[1] else job.patch[0],
            hidden_size=size["hidden"],
            num_hidden_layers=size["layers"],
            num_attention_heads=size["heads"],
            intermediate_size=size["hidden"] * 4,
        )
    else:
        raise TrainingDataError(f"unknown encoder {job.encoder!r}; vit or swin")
    decoder = TrOCRConfig(
        vocab_size=len(tokenizer),
        d_model=size["hidden"],
        decoder_layers=size["layers"],
        decoder_attention_heads=size["heads"],
        decoder_ffn_dim=size["hidden"] * 4,
        max_position_embeddings=max(64, job.max_length + 8),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.bos_token_id,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.bos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    config.vocab_size = len(tokenizer)
    model = VisionEncoderDecoderModel(config=config)
    image_processor = ViTImageProcessor(
        size={"height": job.image_height, "width": job.image_width},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return model, TrOCRProcessor(image_processor=image_processor, tokenizer=tokenizer)


def _save_checkpoint(
    directory: Path,
    model: Any,
    processor: Any,
    optimizer: Any,
    schedule: Any,
    step: int,
    history: list[Any],
    ctc_head: Any,
) -> None:
    import torch

    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    processor.save_pretrained(partial)
    state = {
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "step": step,
        "history": history,
        "python_rng": random.getstate(),
        "ctc_head": ctc_head.state_dict() if ctc_head is not None else None,
    }
    torch.save(state, partial / "state.pt")
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)  # a crash while saving leaves the previous checkpoint whole


def _save_final(job: RecognizerTraining, model: Any, processor: Any, result: TrainingReport) -> None:
    from transformers import GenerationConfig

    tokenizer = processor.tokenizer
    model.generation_config = GenerationConfig(
        decoder_start_token_id=model.config.decoder_start_token_id,
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        max_length=job.max_length,
        num_beams=1,
    )
    model.eval()
    model.save_pretrained(job.out)
    processor.save_pretrained(job.out)
    (job.out / "training.json").write_text(
        json.dumps({"job": {k: str(v) for k, v in asdict(job).items()}, "result": asdict(result)}, indent=1),
        encoding="utf-8",
    )
    cer = f"{result.validation_cer:.4f}" if result.validation_cer is not None else "not measured (no validation set)"
    parameters = sum(p.numel() for p in model.parameters())
    origin = "trained from scratch" if job.base == SCRATCH else f"fine-tuned from {job.base}"
    (job.out / "README.md").write_text(
        f"# Kartoteka recogniser ({origin})\n\n"
        f"- Architecture: VisionEncoderDecoder ({model.config.encoder.model_type} encoder, TrOCR decoder), "
        f"{parameters:,} parameters, input {job.image_height}x{job.image_width}\n"
        f"- Training set: {job.data} ({result.train_words} words; {result.validation_words} to validate)\n"
        f"- Steps: {result.steps}, batch {job.batch_size}, learning rate {job.learning_rate}, {job.precision} "
        f"on {job.device}, {result.seconds / 60:.1f} min\n"
        f"- Validation CER (greedy, words of validation cards): {cer}\n\n"
        "Measure it on whole cards with `kartoteka eval`; `training.json` holds every setting and the history.\n",
        encoding="utf-8",
    )
