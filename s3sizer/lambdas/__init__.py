"""The Lambda functions of s3sizer, shipped alone in each function's zip as ``s3sizer_lambdas``.

Only the standard library and boto3 are imported here (matplotlib only inside render.py), and
nothing else from s3sizer, because the zip holds these modules and nothing more.
"""
