"""The keys s3sizer itself writes into a tracked bucket: the only ones its totals skip."""

from __future__ import annotations

import re

RESERVED_PREFIX = ".s3sizer/"
PLOT_KEY = RESERVED_PREFIX + "plot.png"
# A layer too large to upload directly goes through the bucket under a name only deploy makes.
LAYER_UPLOAD = re.compile(re.escape(RESERVED_PREFIX) + r"layers/[0-9a-f]{32}\.zip")


def is_own_key(key: str) -> bool:
    return key == PLOT_KEY or LAYER_UPLOAD.fullmatch(key) is not None
