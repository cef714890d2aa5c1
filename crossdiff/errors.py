"""The one exception type a user sees: a message that names the file, the field and the fix."""


class CrossdiffError(Exception):
    """An error caused by the user's input or environment, printed as one line by the CLI.

    Raise it with a message that says what was wrong (file, field, value) and what to do.
    """
