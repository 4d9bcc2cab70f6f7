"""s3sizer: an exact, constant-cost tracker of an S3 bucket's size, with its whole lifecycle."""

__version__ = "0.1.0"
