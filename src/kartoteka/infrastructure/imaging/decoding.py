"""Decoding untrusted bytes: every way a decoder can fail becomes one of two refusals.

Pillow's decoders raise far more than ``OSError`` on hostile input: a TIFF whose
StripOffsets tag is text raises ``TypeError``, a damaged EXIF block ``struct.error``,
an absurd offset ``OverflowError``. Whatever a decoder raises while it reads bytes
from outside is the bytes' fault, so inside ``untrusted_image()`` any ``Exception``
becomes ``UnreadableImageError`` (a 422, or a failed gallery image), and an image
with more pixels than can be decoded safely (Pillow's decompression-bomb guard, or
memory running out) becomes ``ImageTooLargeError`` (a 413). Refusals raised inside
pass through unchanged. Only Pillow, so the api process can use it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

from kartoteka.application.shared.images import ImageTooLargeError, UnreadableImageError
from kartoteka.domain.errors import Refusal


@contextmanager
def untrusted_image(*, bomb_warning_is_error: bool = False) -> Iterator[None]:
    """Translate any decoding failure in the block; see the module docstring.

    ``bomb_warning_is_error`` refuses images past Pillow's warning threshold too
    (half of its hard limit), for callers with no pixel limit of their own.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error" if bomb_warning_is_error else "ignore", Image.DecompressionBombWarning)
            warnings.filterwarnings("ignore", category=UserWarning)  # "Corrupt EXIF data" and the like
            yield
    except Refusal:
        raise
    except UnidentifiedImageError:
        raise UnreadableImageError("not a recognised image format") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"too many pixels to decode safely ({exc})") from None
    except MemoryError:
        raise ImageTooLargeError("too large to decode in the memory available") from None
    except Exception as exc:  # hostile bytes can make a decoder raise anything
        raise UnreadableImageError(f"image data is corrupt or truncated ({type(exc).__name__}: {exc})") from None
