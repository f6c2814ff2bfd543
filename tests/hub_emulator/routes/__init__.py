"""The emulated Hub's HTTP API, one router per noun; `server.ROUTERS` mounts them (its order is match order)."""
