"""The coding agent in the job (DESIGN §11): Pi installed, sandboxed, proxied, prompted and looped under the gate."""
