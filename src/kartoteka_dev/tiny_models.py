"""Small models of the production architectures, built from configuration.

No machine here reaches a model hub, so tests and demos build a YOLO from its
``.yaml`` and a small TrOCR-style VisionEncoderDecoder with a byte-level BPE
tokenizer trained on Cyrillic dialect text, and save them exactly the way the
published checkpoints are laid out. The production loaders then read them
like the real ones: nothing here is a test-only loading path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kartoteka.domain.recognition.text import DIALECT_MARKS

_CORPUS = (
    "Ба́тюшка, м. Отец; обращение к священнику. Арх., Пинеж., Карпова Гора, 1974. "
    "Бра́ва, прил. Хороший, пригожий. Пошли́ на‿гору по ягоды. Вологод., Тотем. 1981. "
    "Зы́бка — колыбель, подвешенная к потолку. Мезен., Долгощелье. Кла̂ня ве̄чор пришлӑ. "
    "Шаньга́, ж. Ватрушка с картошкой. Ёлка, щука, чаща, съезд, объём, ЭЮЯ эюя ЪЫЬ ъыь. "
    "Говорят: «ба́ско, ла́дно», по‿за́ реке̑, ко‿двору́. Ж Ш Щ Ц Ч Й й ё Ё 0123456789 .,;:-—()«»"
)


def dialect_alphabet() -> str:
    """Every character the tiny tokenizer must be able to encode on its own."""
    letters = "".join(chr(c) for c in range(0x410, 0x450)) + "Ёё"
    return letters + "".join(sorted(DIALECT_MARKS)) + "0123456789 .,;:-—()«»!?'\""


def build_tiny_detector(directory: Path, *, config: str = "yolov8n.yaml", filename: str = "model.pt") -> Path:
    """An untrained YOLO of the given architecture saved as the hub checkpoint is (``model.pt``)."""
    from ultralytics import YOLO

    directory.mkdir(parents=True, exist_ok=True)
    model = YOLO(config, task="detect")
    target = directory / filename
    model.save(str(target))
    return target


def export_detector_onnx(weights: Path, *, imgsz: int = 320) -> Path:
    from ultralytics import YOLO

    exported = YOLO(str(weights), task="detect").export(format="onnx", imgsz=imgsz, simplify=False, dynamic=False)
    return Path(str(exported))


def build_tiny_recognizer(
    directory: Path,
    *,
    image_size: int = 64,
    patch_size: int = 16,
    encoder_hidden: int = 64,
    encoder_layers: int = 2,
    decoder_hidden: int = 64,
    decoder_layers: int = 2,
    encoder_heads: int = 2,
    decoder_heads: int = 2,
    vocab_size: int = 600,
    pad_vocab_to: int | None = None,
    max_length: int = 12,
    num_beams: int = 4,
    init_std: float = 0.2,
    seed: int = 0,
) -> Path:
    """A VisionEncoderDecoder (ViT encoder + TrOCR decoder) with the fine-tune's generation settings.

    Small by default; the benchmark builds it at TrOCR-small's size.

    Weights are drawn wider than the usual 0.02 so that the untrained model's
    output depends on its input: tests compare outputs across batch sizes,
    backends and colour orders, which means nothing if every input reads alike.
    """
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        GenerationConfig,
        RobertaTokenizerFast,
        TrOCRConfig,
        TrOCRProcessor,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    directory.mkdir(parents=True, exist_ok=True)
    work = directory / ".tokenizer"
    work.mkdir(exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        [_CORPUS, dialect_alphabet()] * 4,
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    bpe.save_model(str(work))
    tokenizer = RobertaTokenizerFast(
        vocab_file=str(work / "vocab.json"), merges_file=str(work / "merges.txt"), model_max_length=512
    )
    shutil.rmtree(work)
    if pad_vocab_to is not None and pad_vocab_to > len(tokenizer):
        # A real checkpoint's output layer is as wide as its vocabulary (TrOCR-small: 64044);
        # filler tokens give a benchmark model the same per-step cost.
        tokenizer.add_tokens([f"<filler{i}>" for i in range(pad_vocab_to - len(tokenizer))])

    torch.manual_seed(seed)
    encoder = ViTConfig(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=encoder_hidden,
        num_hidden_layers=encoder_layers,
        num_attention_heads=encoder_heads,
        intermediate_size=encoder_hidden * 4,
        initializer_range=init_std,
    )
    decoder = TrOCRConfig(
        vocab_size=len(tokenizer),
        d_model=decoder_hidden,
        decoder_layers=decoder_layers,
        decoder_attention_heads=decoder_heads,
        decoder_ffn_dim=decoder_hidden * 4,
        init_std=init_std,
        max_position_embeddings=max(64, max_length + 8),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.bos_token_id,
    )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = tokenizer.cls_token_id
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.sep_token_id
    config.vocab_size = len(tokenizer)
    model = VisionEncoderDecoderModel(config=config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=tokenizer.cls_token_id,
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.sep_token_id,
        max_length=max_length,
        num_beams=num_beams,
        early_stopping=True,
        no_repeat_ngram_size=3,
        length_penalty=2.0,
    )
    model.eval()
    model.save_pretrained(directory)
    image_processor = ViTImageProcessor(
        size={"height": image_size, "width": image_size},
        do_resize=True,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    TrOCRProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(directory)
    return directory


def export_recognizer_onnx(source: Path, target: Path) -> Path:
    """ONNX export with past key values, as optimum publishes TrOCR (encoder + decoders)."""
    from optimum.exporters.onnx import main_export
    from transformers import TrOCRProcessor

    main_export(str(source), output=str(target), task="image-to-text-with-past", device="cpu")
    TrOCRProcessor.from_pretrained(source).save_pretrained(target)
    return target
