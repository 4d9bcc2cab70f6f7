"""The keys s3sizer itself writes into a tracked bucket, defined once for every part of s3sizer.

The tracker ignores exactly these keys, so that the plot it draws and the layer zip it uploads
never become changes of the size they measure. Any other object, even one a user puts under
``.s3sizer/``, counts. Standard library only: this module ships in the functions' zips.
"""

from __future__ import annotations

import re

RESERVED_PREFIX = ".s3sizer/"
PLOT_KEY = ".s3sizer/plot.png"
# A layer zip above Lambda's direct-upload limit goes through S3, named by its content's hash.
LAYER_UPLOAD = re.compile(r"\.s3sizer/layers/[0-9a-f]{32}\.zip")


def is_own_key(key: str) -> bool:
    """True for the plot and for a layer upload: the only objects s3sizer writes to a bucket."""
    return key == PLOT_KEY or LAYER_UPLOAD.fullmatch(key) is not None
