"""Backends: the small protocols the pipeline, the service and the CLI talk to, and their implementations."""
