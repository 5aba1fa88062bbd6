"""Images in and out, and how filter responses become displayable pixels."""

from padlab.io.images import (
    FORMATS,
    from_float,
    read_image,
    resize,
    sample_image,
    to_float,
    to_gray,
    write_image,
)
from padlab.io.mapping import MAPPINGS, Mapped, display

__all__ = [
    "FORMATS",
    "MAPPINGS",
    "Mapped",
    "display",
    "from_float",
    "read_image",
    "resize",
    "sample_image",
    "to_float",
    "to_gray",
    "write_image",
]
