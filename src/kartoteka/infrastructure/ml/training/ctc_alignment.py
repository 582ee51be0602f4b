"""An auxiliary CTC loss on the encoder's output, used only while training.

A decoder trained from scratch must discover by itself which encoder
positions hold the next character; until it does, it learns a language model
of the words and reads nothing (validation CER stays near 0.8 for an hour of
CPU). A CTC head over the encoder's columns makes the encoder put each
character's identity at its place, left to right, from the first steps, and
the decoder's cross-attention then has something to find (joint CTC-attention
training). The head is thrown away with the optimizer: the saved checkpoint
is a plain VisionEncoderDecoder that the worker loads unchanged.
"""

from __future__ import annotations

from typing import Any


def encoder_grid(encoder_config: Any, image_height: int, image_width: int) -> tuple[int, int]:
    """Rows and columns of the patch grid the encoder's last layer outputs, for the image size trained on."""
    patch = encoder_config.patch_size
    height, width = (patch, patch) if isinstance(patch, int) else tuple(patch)
    if encoder_config.model_type == "swin":
        merges = 2 ** (len(encoder_config.depths) - 1)
        height, width = height * merges, width * merges
    return image_height // height, image_width // width


def build_ctc_head(hidden: int, rows: int, vocabulary: int) -> Any:
    """A linear scoring of each grid column (its ``rows`` states side by side) over the vocabulary, blank included."""
    import torch

    return torch.nn.Linear(hidden * rows, vocabulary)


def column_log_probs(head: Any, states: Any) -> Any:
    """(batch, columns, vocabulary) log-probabilities of raster-ordered encoder states (class token first, if any)."""
    batch, tokens, width = states.shape
    rows = head.in_features // width
    columns = tokens // rows
    grid = states[:, tokens - rows * columns :]
    grid = grid.reshape(batch, rows, columns, width).permute(0, 2, 1, 3)
    return head(grid.reshape(batch, columns, rows * width)).log_softmax(-1)


def ctc_loss(head: Any, encoder_states: Any, labels: Any, blank: int, ignore: set[int]) -> Any:
    """CTC loss of the encoder states against ``labels`` (padding and the special tokens in ``ignore`` left out).

    Words longer than the grid has columns cannot be aligned; their loss is
    zero rather than infinite, so one long word cannot derail a batch.
    """
    import torch
    import torch.nn.functional as F

    log_probs = column_log_probs(head, encoder_states.float())
    targets = [[int(t) for t in row if int(t) >= 0 and int(t) not in ignore] for row in labels.tolist()]
    device = log_probs.device
    lengths = torch.tensor([len(t) for t in targets], dtype=torch.long, device=device)
    flat = torch.tensor([t for row in targets for t in row], dtype=torch.long, device=device)
    frames = torch.full((log_probs.shape[0],), log_probs.shape[1], dtype=torch.long, device=device)
    return F.ctc_loss(
        log_probs.transpose(0, 1), flat, frames, lengths, blank=blank, reduction="mean", zero_infinity=True
    )
