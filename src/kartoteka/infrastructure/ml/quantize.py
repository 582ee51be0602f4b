"""int8 dynamic quantization of an ONNX recogniser, made once per model and kept in a cache.

Dynamic quantization stores the weights of matrix multiplications as int8 and
quantizes activations on the fly: no calibration data is needed, the model is
about a quarter of the size, and a CPU runs it faster. The copy is keyed by the
source model's identity, so a changed model is quantized again, and it is
written under a temporary name and renamed, so workers starting together never
load half a file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from kartoteka.application.shared.models import ModelUnavailableError
from kartoteka.infrastructure.ml.model_files import revision_of

DONE = ".quantized"
MERGED = "decoder_model_merged.onnx"


def default_quantized_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kartoteka" / "quantized"


def quantized_copy(source: Path, cache: Path | None = None) -> Path:
    """A directory like ``source`` with every ``.onnx`` file quantized to int8."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    models = sorted(source.glob("*.onnx"))
    names = {m.name for m in models}
    if {"decoder_model.onnx", "decoder_with_past_model.onnx"} <= names:
        # The quantizer leaves the matrix products inside the merged decoder's branches in float, and
        # the loader prefers a merged decoder when there is one: keep the two decoders it replaces.
        models = [m for m in models if m.name != MERGED]
    if not models:
        raise ModelUnavailableError(f"recognizer model {str(source)!r} has no .onnx files to quantize (backend: onnx)")
    root = cache or default_quantized_cache()
    target = root / f"{source.name}-{revision_of(source)}-int8"
    if (target / DONE).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".int8-", dir=root))
    try:
        for item in source.iterdir():
            if item.is_file() and item.suffix != ".onnx" and not item.name.endswith(".onnx_data"):
                shutil.copy2(item, work / item.name)
        for model in models:
            quantize_dynamic(model_input=str(model), model_output=str(work / model.name), weight_type=QuantType.QInt8)
        (work / DONE).write_text(str(source), encoding="utf-8")
        try:
            work.rename(target)
        except OSError:  # another process finished first: use its copy
            if not (target / DONE).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
