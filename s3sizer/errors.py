"""The errors a user can see: each names what went wrong and how to fix it."""


class S3SizerError(Exception):
    """Base of every error shown to a user as one line on stderr, exit code 1."""

    exit_code = 1

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if not self.fix:
            return self.message
        # The fix is a sentence of its own; written lower-case where it is raised.
        return f"{self.message}. {self.fix[:1].upper()}{self.fix[1:]}"


class UsageError(S3SizerError):
    """The command line itself is wrong; exit code 2."""

    exit_code = 2


class ConfigError(S3SizerError):
    """Credentials, region or endpoint are missing or wrong."""


class AwsError(S3SizerError):
    """An AWS call failed in a way the user can act on."""


class StackError(S3SizerError):
    """The stack is missing, incomplete, or in conflict with existing resources."""


class EmulatorError(S3SizerError):
    """The local AWS could not start or serve."""
