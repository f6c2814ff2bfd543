"""A loopback Hugging Face Hub emulator for the hf backend's tests: `server.HubEmulator` runs the app, the
routers in `routes/` answer per noun over `state.HubState`, `faults.py` holds the switches tests turn on,
`jobs.py` runs posted jobs, `xet.py` replaces the client's xet session, `fixtures.py` has the pytest fixtures."""
