"""What an error may say when it leaves the server: every error text passes here once, on its way out.

`RedactErrors` is a server middleware (it wraps every inbound request, in both protocol eras and on
every transport), so no error path of ours or of the SDK's can skip it:

- a tool error (`isError: true`) — ours, or the SDK's own argument-validation text, which repeats the
  rejected value (`input_value='hf_…'`, cut in the middle when long, so a redactor alone would miss the
  halves): the value is dropped, the field and the rule it broke are kept, and the text is redacted;
- a JSON-RPC error (`MCPError`: resources, prompts, unknown methods): its message and data are redacted
  (a resource error's `data.uri` is the caller's URI, which can carry a token-shaped run id);
- any other exception a handler raises, whose text the SDK would send as the error message
  (`Unknown prompt: <name>`): redacted the same way.
"""

from __future__ import annotations

import re
from typing import Any

from mcp import MCPError
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.types import INTERNAL_ERROR, CallToolResult, TextContent
from pydantic import ValidationError

from space_factory.domain.redaction import Redactor

__all__ = ["RedactErrors", "clean_error_text"]

_redactor = Redactor()

# pydantic's error line ends `[type=<type>, input_value=<repr>, input_type=<type>]`. The repr is one line
# (repr escapes newlines), and the greedy `.*` runs to the LAST `, input_type=…]` of the line, so a value
# that itself contains `, input_type=str]` cannot end the match early.
_INPUT_ECHO = re.compile(r"\[type=([\w.-]+), input_value=.*, input_type=[\w.]+\]$", re.MULTILINE)
# A pydantic that words its errors differently must still not echo: from `input_value=` to the line's end.
_ANY_INPUT_ECHO = re.compile(r",? *input_value=.*$", re.MULTILINE)


def clean_error_text(text: str) -> str:
    """The error text a client may see: no echoed argument value, and nothing the redactor calls secret.

    Example:
        >>> clean_error_text("run_id\\n  String should match [type=string_pattern_mismatch, input_value='x', "
        ...                  "input_type=str]")
        'run_id\\n  String should match [type=string_pattern_mismatch]'
    """
    text = _INPUT_ECHO.sub(r"[type=\1]", text)
    text = _ANY_INPUT_ECHO.sub("", text)
    return _redactor.redact_text(text)


def _clean_tool_result(result: HandlerResult) -> HandlerResult:
    if isinstance(result, CallToolResult):
        if not result.is_error:
            return result
        content = [TextContent(type="text", text=clean_error_text(block.text)) if isinstance(block, TextContent)
                   else block for block in result.content]
        return result.model_copy(update={"content": content})
    if isinstance(result, dict) and result.get("isError") is True:
        blocks = result.get("content")
        if isinstance(blocks, list):
            cleaned = [{**block, "text": clean_error_text(block["text"])}
                       if isinstance(block, dict) and isinstance(block.get("text"), str) else block
                       for block in blocks]
            return {**result, "content": cleaned}
    return result


def _clean_data(value: Any) -> Any:
    if isinstance(value, str):
        return clean_error_text(value)
    if isinstance(value, dict):
        return {key: _clean_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_data(item) for item in value]
    return value


class RedactErrors(ServerMiddleware[Any]):
    """Server middleware: tool errors and JSON-RPC errors leave without echoed values or secrets."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            result = await call_next(ctx)
        except MCPError as exc:
            message, data = clean_error_text(exc.message), _clean_data(exc.data)
            if message == exc.message and data == exc.data:
                raise  # nothing to hide: keep the SDK's own exception (and its subclass)
            raise MCPError(code=exc.code, message=message, data=data) from None
        except ValidationError:
            raise  # malformed params: the SDK answers INVALID_PARAMS without pydantic's text
        except Exception as exc:
            # The dispatcher would send str(exc) as the error message (e.g. "Unknown prompt: <name>").
            message = clean_error_text(str(exc))
            if message == str(exc):
                raise
            raise MCPError(code=INTERNAL_ERROR, message=message) from None
        if ctx.method == "tools/call":
            return _clean_tool_result(result)
        return result
