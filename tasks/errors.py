"""Errors a user can fix: the CLI prints them without a traceback and exits with status 2."""


class UserError(ValueError):
    """Bad input from the user (config, data, arguments); the message names the problem and the fix."""
