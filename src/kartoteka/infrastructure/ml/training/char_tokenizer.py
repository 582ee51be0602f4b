"""A character-level tokenizer for a recogniser trained from scratch.

A byte-level BPE learnt on a small corpus splits a stressed vowel's
combining mark into byte pieces it may never learn to put back; one token per
code point (NFC) round-trips every dialect mark by construction, and an
alphabet wider than the training texts keeps letters a small set happens to
lack encodable.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from kartoteka.domain.recognition.text import DIALECT_MARKS

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")
GRAVE = "\u0300"


def base_alphabet() -> set[str]:
    cyrillic = {chr(c) for c in range(0x410, 0x450)} | set("ЁёІіЇїЄєѢѣѲѳѴѵ")
    latin = {chr(c) for c in range(ord("a"), ord("z") + 1)} | {chr(c) for c in range(ord("A"), ord("Z") + 1)}
    return cyrillic | latin | set("0123456789 .,;:-—–()[]«»!?'\"/‿") | set(DIALECT_MARKS) | {GRAVE}


def build_char_tokenizer(texts: Iterable[str]) -> Any:
    """A ``PreTrainedTokenizerFast``: ``<s>`` text ``</s>``, one token per NFC code point."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    seen = {ch for text in texts for ch in unicodedata.normalize("NFC", text)}
    alphabet = sorted((base_alphabet() | seen) - {"\n", "\r", "\t"})
    vocab = {token: n for n, token in enumerate((*SPECIAL_TOKENS, *alphabet))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        cls_token="<s>",
        sep_token="</s>",
        clean_up_tokenization_spaces=False,
    )
