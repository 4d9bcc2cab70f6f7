"""A local AWS: moto's HTTP server plus a Lambda runtime of worker processes.

It knows nothing of s3sizer's stack and serves any AWS client. Importing this package is cheap:
moto and boto3 load only when an emulator starts.
"""

from .server import Emulator, serve

__all__ = ["Emulator", "serve"]
