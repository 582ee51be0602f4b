"""The tiny test models are faithful stand-ins: published layout, dialect-capable tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

from kartoteka.domain.recognition.text import DIALECT_MARKS
from kartoteka_dev.tiny_models import dialect_alphabet


def test_tokenizer_round_trips_dialect_text_with_every_mark(tiny_recognizer: Path) -> None:
    from transformers import TrOCRProcessor

    tokenizer = TrOCRProcessor.from_pretrained(str(tiny_recognizer)).tokenizer
    text = "Ба\u0301тюшка, м. на\u203fгору по\u0302 ве\u0304чор пришла\u0306 ре\u0311ке Ёлка"
    ids = tokenizer(text).input_ids
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    for ch in dialect_alphabet():
        assert tokenizer.decode(tokenizer(ch, add_special_tokens=False).input_ids) == ch
    assert set(dialect_alphabet()) >= DIALECT_MARKS


def test_recognizer_directory_is_laid_out_like_a_hub_checkpoint(tiny_recognizer: Path) -> None:
    names = {p.name for p in tiny_recognizer.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "preprocessor_config.json"} <= names
    assert {"tokenizer.json", "tokenizer_config.json"} <= names
    config = json.loads((tiny_recognizer / "config.json").read_text())
    assert config["model_type"] == "vision-encoder-decoder"
    assert config["encoder"]["model_type"] == "vit"
    assert config["decoder"]["model_type"] == "trocr"
    generation = json.loads((tiny_recognizer / "generation_config.json").read_text())
    assert (generation["num_beams"], generation["no_repeat_ngram_size"], generation["length_penalty"]) == (4, 3, 2.0)


def test_onnx_export_has_encoder_and_decoders_with_past(tiny_recognizer_onnx: Path) -> None:
    names = {p.name for p in tiny_recognizer_onnx.iterdir()}
    assert {"encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"} <= names
    assert "preprocessor_config.json" in names
