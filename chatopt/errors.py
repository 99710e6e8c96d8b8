"""The one error type the CLI turns into a clear message instead of a traceback."""


class ChatoptError(Exception):
    """A user-facing failure: what went wrong and what to do about it.

    The CLI prints ``message`` (and ``hint`` when given) on one line and exits
    with ``exit_code``; engines raise it for mistakes a user can fix.
    """

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message
