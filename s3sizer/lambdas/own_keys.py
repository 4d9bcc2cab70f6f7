"""The keys s3sizer itself writes into a tracked bucket, defined once for every part of s3sizer.

The tracker ignores exactly these keys in the stack's first bucket, the only bucket s3sizer
writes to, so that the plot it draws and the layer zip it uploads never become changes of the
size they measure. Any other object, even one a user puts under ``.s3sizer/``, counts, and so
does a key of the same name in any other tracked bucket. Standard library only: this module
ships in the functions' zips.
"""

from __future__ import annotations

import os
import re

RESERVED_PREFIX = ".s3sizer/"
PLOT_KEY = ".s3sizer/plot.png"
# A layer zip above Lambda's direct-upload limit goes through S3, named by its content's hash.
LAYER_UPLOAD = re.compile(r"\.s3sizer/layers/[0-9a-f]{32}\.zip")
# The first bucket's name, in the tracker's environment.
OWN_BUCKET_VARIABLE = "OWN_KEYS_BUCKET"


def is_own_key(key: str) -> bool:
    """True for the plot and for a layer upload: the only objects s3sizer writes to a bucket."""
    return key == PLOT_KEY or LAYER_UPLOAD.fullmatch(key) is not None


def is_own_object(bucket: str, key: str, own_bucket: str | None) -> bool:
    """True for s3sizer's own key in its own bucket. ``own_bucket`` None: a tracker deployed
    before the first bucket was named to it, which ignored these keys in every bucket."""
    return is_own_key(key) and (own_bucket is None or bucket == own_bucket)


def own_bucket_from_environment() -> str | None:
    return os.environ.get(OWN_BUCKET_VARIABLE) or None
