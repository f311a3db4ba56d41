"""Image loading: one fast path from a file to the model input and a grid thumbnail.

* :mod:`.files` — what counts as an image file, the pixel guards (:data:`MAX_PIXELS`, the
  process-wide decoding budget :data:`PIXELS`) and :class:`ImageError`.
* :mod:`.decoding` — file to RGB with orientation applied (JPEG DCT scaling, HEIC/HEIF) and the
  one decode that gives the thumbnail and the model input together; colour in :mod:`.colour`.
* :mod:`.raw` — RAW files through their embedded JPEG preview, read by the exiftool service the
  caller passes in (the RAW is only read).
* :mod:`.preprocess` — the thumbnail and the model input (:class:`Preprocess`).
* :mod:`.thumbnails` — the thumbnail cache on disk by content identity, written atomically.
* :mod:`.fingerprint` — the image-data fingerprint, blind to metadata.

Every problem with a file raises :class:`ImageError` with a message a user can act on.
"""

from moodtagger.core.imaging.decoding import Decoded, OpenedImage, decode, open_image
from moodtagger.core.imaging.files import (
    IMAGE_EXT,
    JPEG_EXT,
    MAX_PIXELS,
    PIXEL_BUDGET,
    PIXELS,
    RAW_EXT,
    THUMB_SIZE,
    ImageError,
    PixelBudget,
    exif_datetime,
    is_image_path,
    is_raw,
    open_regular,
    xmp_datetime,
)
from moodtagger.core.imaging.fingerprint import data_fingerprint, pixel_fingerprint
from moodtagger.core.imaging.preprocess import (
    Preprocess,
    center_crop_input,
    decode_side,
    thumbnail,
)
from moodtagger.core.imaging.raw import RawPreview, raw_preview
from moodtagger.core.imaging.thumbnails import (
    cache_dir,
    cached_thumbnail,
    save_thumbnail,
    thumb_path,
)

__all__ = [
    "IMAGE_EXT",
    "JPEG_EXT",
    "MAX_PIXELS",
    "PIXELS",
    "PIXEL_BUDGET",
    "RAW_EXT",
    "THUMB_SIZE",
    "Decoded",
    "ImageError",
    "OpenedImage",
    "PixelBudget",
    "Preprocess",
    "RawPreview",
    "cache_dir",
    "cached_thumbnail",
    "center_crop_input",
    "data_fingerprint",
    "decode",
    "decode_side",
    "exif_datetime",
    "xmp_datetime",
    "is_image_path",
    "is_raw",
    "open_image",
    "open_regular",
    "pixel_fingerprint",
    "raw_preview",
    "save_thumbnail",
    "thumb_path",
    "thumbnail",
]
