"""The MCP server: the app factory (`app.create_app`), transports (`run.serve`), HTTP auth, resources, prompts."""
