"""Object headers as S3 stores them.

- Content-Encoding: S3 drops `aws-chunked` (the SDKs' upload framing, not the object's encoding)
  and keeps the rest as sent, so HEAD shows `gzip` for `gzip, aws-chunked` and no header at all
  for `aws-chunked` alone. moto split the list on "," without trimming, so `aws-chunked` after a
  comma and space stayed stored.
"""

from __future__ import annotations

from .hooks import PatchSet, Target

_MODELS = "moto.s3.models"
UPLOAD_FRAMING = "aws-chunked"

TARGETS = {
    "set_metadata": Target("aws-chunked dropped from a stored Content-Encoding", _MODELS,
                           "FakeKey", "set_metadata", ("self", "metadata", "replace")),
}  # fmt: skip


def install(patches: PatchSet) -> None:
    patches.replace(TARGETS["set_metadata"], _set_metadata)


def stored_encoding(sent: str) -> str:
    """The Content-Encoding S3 keeps for the one a client sent ("" for none)."""
    return ", ".join(
        part.strip() for part in sent.split(",") if part.strip() and part.strip() != UPLOAD_FRAMING
    )


def _set_metadata(original):
    def set_metadata(self, metadata, replace=False):
        encoding = metadata.get("Content-Encoding") if metadata else None
        if encoding is not None:
            kept = stored_encoding(encoding)
            if kept:
                metadata["Content-Encoding"] = kept
            else:
                metadata.pop("Content-Encoding")
        return original(self, metadata, replace)

    return set_metadata
