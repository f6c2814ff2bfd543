"""The logging adapter around the redactor: one filter for every handler that writes a log line (STYLE R13)."""

from __future__ import annotations

import logging

from space_factory.domain.redaction.redactor import Redactor

__all__ = ["RedactingFilter", "install_redacting_filter"]


class RedactingFilter(logging.Filter):
    """The last net under every log line: secrets are redacted even from a careless message.

    The message (its arguments merged in), the exception text and the stack are redacted on the record
    itself, before any formatter runs, so every handler that formats it sees the redacted text.

    Args:
        redactor: the redactor to use, with the run's known secrets; patterns only when None.

    Example:
        >>> record = logging.LogRecord("x", logging.INFO, __file__, 1, "using %s", ("HF_TOKEN=Xk39dk2lsP0q",), None)
        >>> RedactingFilter().filter(record), record.getMessage()
        (True, 'using HF_TOKEN=[REDACTED]')
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._redactor = redactor or Redactor()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._redactor.redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redactor.redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redactor.redact_text(record.stack_info)
        return True


def install_redacting_filter(handler: logging.Handler, redactor: Redactor | None = None) -> None:
    """Add a `RedactingFilter` to `handler` unless it already has one."""
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter(redactor))
