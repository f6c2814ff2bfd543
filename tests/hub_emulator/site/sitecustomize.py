"""For subprocesses the tests start as Hub clients (the CLI): replace the xet session seam, as the test
process does (hf-apis.md §2.4). Active only when HUB_EMULATOR_URL is set; the repository root must be on
PYTHONPATH."""

import os

if os.environ.get("HUB_EMULATOR_URL"):
    from tests.hub_emulator.xet import install

    install(os.environ["HUB_EMULATOR_URL"])
