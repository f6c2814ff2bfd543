"""The MCP tools, one module per noun (STYLE R2): each has a `register(app)` that `server.app.create_app` calls.

Handlers are thin: their type hints validate the input, `tools.common.call_service` calls the
`Factory` in a worker thread and translates its errors, and a pydantic model comes back.
"""
