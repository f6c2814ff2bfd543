"""Who is calling: whoami by bearer token, and the dependency the other routers name their caller with."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from tests.hub_emulator.answers import HubError
from tests.hub_emulator.state import Hub, User

router = APIRouter()


def current_user(request: Request, hub: Hub) -> User:
    """The caller; without a token the emulator knows, the Hub's 401.

    Raises:
        HubError: 401.
    """
    user = hub.user_of(request)
    if user is None:
        raise HubError(401, "Invalid credentials in Authorization header")
    return user


Caller = Annotated[User, Depends(current_user)]


@router.get("/api/whoami-v2")
def whoami(user: Caller) -> Any:
    """The three shapes of huggingface.js `ApiWhoAmIReponse` the tests need: a user's access token, a user's
    OAuth token (`auth.type` "oauth"), and an app token acting for the user (no isPro / canPay / emailVerified)."""
    if user.kind == "app":
        return {"type": "app", "id": f"id-app-{user.name}", "name": f"{user.name}-app",
                "scope": {"entities": [user.name], "role": "write"}, "auth": {"type": "access_token"}}
    auth = {"type": "oauth", "scope": " ".join(user.scopes)} if user.scopes is not None \
        else {"type": "access_token", "accessToken": {"displayName": "t", "role": "write"}}
    return {"type": "user", "id": f"id-{user.name}", "name": user.name, "fullname": user.name,
            "isPro": user.is_pro, "canPay": user.can_pay, "emailVerified": user.email_verified, "orgs": [],
            "auth": auth}


@router.get("/api/agent-harnesses")
def harnesses() -> Any:
    return {"standardEnvVars": [], "harnesses": {}}
