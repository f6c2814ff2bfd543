"""For subprocesses the tests start as Hub clients (the CLI): replace the xet session seam, as the test
process does (hf-apis.md §2.4). Active only when HUB_EMULATOR_URL is set; the repository root must be on
PYTHONPATH. For emulated jobs (HUB_EMULATOR_MOUNT set): the hf-mount-like bucket volume (mount_shim.py)."""

import os

if os.environ.get("HUB_EMULATOR_URL"):
    from tests.hub_emulator.xet import install

    install(os.environ["HUB_EMULATOR_URL"])

# For emulated jobs: the bucket volume behaves like hf-mount (mount_shim.py); set by the emulator per job.
if os.environ.get("HUB_EMULATOR_MOUNT"):
    from tests.hub_emulator.mount_shim import install as install_mount

    install_mount()
