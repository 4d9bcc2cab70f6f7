"""s3sizer's benchmarks: `python benchmarks/run.py [--quick | --smoke] [--out PATH]`."""
