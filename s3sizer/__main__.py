from s3sizer.cli import main

main()
