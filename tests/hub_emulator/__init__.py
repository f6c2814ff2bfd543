"""A loopback Hugging Face Hub emulator for the hf backend's tests (see `server.py`)."""
