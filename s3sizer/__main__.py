import sys

try:
    from s3sizer import interrupts

    interrupts.install()
    from s3sizer.cli import main
except KeyboardInterrupt:  # before s3sizer.cli could catch it itself
    sys.stderr.write(interrupts.stopped_line() + "\n")
    sys.exit(interrupts.exit_code())

main()
