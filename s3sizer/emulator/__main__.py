"""python -m s3sizer.emulator [--host H] [--port P]: the local AWS in the foreground."""

import argparse
import os
import sys

from s3sizer.errors import S3SizerError

from . import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m s3sizer.emulator",
        description="Run a local AWS (S3, DynamoDB, Lambda, SQS, EventBridge, CloudWatch, IAM, "
        "STS and more) until Ctrl-C or SIGTERM. Port 0 picks a free port; the export line shows "
        "the real one.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4566, help="port to bind (default 4566)")
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port)
    except S3SizerError as error:
        print(f"Error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is shut down by now. Skipping the interpreter's final clean-up keeps the exit
    # immediate: collecting a large moto state can otherwise take seconds.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
