"""Property: whatever bytes they are given, the decoders refuse with one of their own errors or succeed.

Every decoder of untrusted bytes (the api's inspector and page splitter, the worker's card loader,
the embedding preprocessing and the thumbnail maker) is fed mutations of real files of each format
and bare random bytes. None may raise anything but its documented refusal; anything else would be
a 500 in the api or a whole embedding batch left pending (issue 11). Bounded: a few seconds.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kartoteka.application.gallery.ports.embedding import ImageKind
from kartoteka.application.recognition.ports.pages import PageSplitError
from kartoteka.application.shared.images import UnreadableImageError, UnsupportedImageError
from kartoteka.infrastructure.imaging.inspector import GALLERY_ACCEPTED, inspect_image
from kartoteka.infrastructure.imaging.pages import split_pages
from kartoteka.infrastructure.imaging.thumbnails import make_thumbnail
from kartoteka.infrastructure.ml.embedders.preprocessing import ImageRejectedError, Preprocessing, prepare
from kartoteka.infrastructure.ml.images import decode_card
from tests.bad_images import seeds, tiff_with_text_strip_offsets

MAX_PIXELS = 4_000_000
SEEDS = [data for _, data in seeds().values()] + [tiff_with_text_strip_offsets()]
SPEC = Preprocessing(size=32)

DECODERS: dict[str, Callable[[bytes], object]] = {
    "inspector": lambda data: inspect_image(data, MAX_PIXELS, GALLERY_ACCEPTED),
    "card loader": lambda data: decode_card(data, max_pixels=MAX_PIXELS),
    "thumbnails": lambda data: make_thumbnail(data, 32, MAX_PIXELS),
    "preprocessing": lambda data: prepare(data, SPEC, ImageKind.PHOTO, max_pixels=MAX_PIXELS),
    "page splitter": lambda data: split_pages(data, "upload.bin", max_pixels=MAX_PIXELS, pdf_dpi=50, max_pages=4),
}
REFUSALS = (UnreadableImageError, UnsupportedImageError, PageSplitError, ImageRejectedError)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed file with bytes overwritten, inserted, deleted, or cut short: the file stays recognisable."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(8, len(data) - 1))
        action = draw(st.sampled_from(["set", "insert", "delete", "cut"]))
        if action == "set":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            del data[at:]
        if len(data) < 16:
            break
    return bytes(data)


def decode_everywhere(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about what it tolerates: not a failure
        for name, decode in DECODERS.items():
            try:
                decode(data)
            except REFUSALS:
                pass
            except Exception as exc:  # what this property is about
                raise AssertionError(f"{name} raised {type(exc).__name__}: {exc}") from exc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(mutated())
def test_mutated_files_are_decoded_or_refused(data: bytes) -> None:
    decode_everywhere(data)


@settings(max_examples=50, deadline=None, database=None)
@given(st.binary(max_size=2048))
def test_random_bytes_are_refused(data: bytes) -> None:
    decode_everywhere(data)
