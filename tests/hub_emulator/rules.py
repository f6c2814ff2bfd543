"""The Hub's strictness about README front matter, Spaces, models, plans and tokens (issue 13 points 4-7).

`HubRules` is the switch (`hub.rules`), every part on by default and reset by `clear()`:
- `validate_yaml`: `POST /api/validate-yaml` applies the Hub's rules for the fields the factory writes
  (`cards.py`); off, it accepts anything.
- `null_hardware_while_building`: `hardware.current` is null until the Space is RUNNING.
- `build_delay_seconds`: a Space stays BUILDING this long after each commit (a real build takes minutes).
- `auth_proxy`: a private Space's app is reachable only through a proxy that wants the owner's token
  (`proxy.py`); `space_info().host` is the proxy.
- `online_spaces`: a Space's app downloads its model from the emulator, with its own empty HF cache and, as
  its only credential, the Space's `HF_TOKEN` secret (`containers.py`); off, it reads the shared cache offline.
- `restricted_models`: model id → "gated" or "private"; such a model's files need a token of a user in
  `model_grants` (gated) or of its namespace (private); a private one is invisible without it (`models.py`).
- `zerogpu_slots`: a user may hold 2 (free, verified email) or 10 (PRO) ZeroGPU Spaces; a Space asking for
  ZeroGPU beyond that runs on cpu-basic (`plans.py`).
- `no_credits_status`: what `POST /api/jobs/{ns}` answers a user who cannot pay: 403 with a message about
  credits (the stricter shape), or 402.
- `stream_job_logs`: a running job's log stream stays open (keep-alive every 30 s) until the job ends.
- `lexical_tree`: a bucket tree listing matches its prefix lexically (`dat` also lists `data/…`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_BUILD_DELAY_SECONDS = 2.0


@dataclass
class HubRules:
    validate_yaml: bool = True
    null_hardware_while_building: bool = True
    build_delay_seconds: float = DEFAULT_BUILD_DELAY_SECONDS
    auth_proxy: bool = True
    online_spaces: bool = True
    restricted_models: dict[str, str] = field(default_factory=dict)
    model_grants: set[tuple[str, str]] = field(default_factory=set)
    zerogpu_slots: bool = True
    no_credits_status: int = 403
    stream_job_logs: bool = True
    lexical_tree: bool = True
