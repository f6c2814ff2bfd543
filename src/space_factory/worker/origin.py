"""One origin per live check (DESIGN §9): the app's address resolved once and pinned, every request held to it.

The live check talks to exactly one origin: the app's scheme, host and port. `pin_app` resolves a name
once and keeps the URL to dial with that address in it, so a second lookup (DNS rebinding) cannot move
the check elsewhere. `OriginGuard` is an httpx auth hook that refuses, before a byte is sent, every
request and every connection for another origin: a redirect to another host or port (httpx follows
redirects for gradio_client's file downloads), an app whose `/config` points `api_prefix` elsewhere,
gradio_client's fallback to its hosted API fetcher for old apps. The headers of a `PinnedApp` (a private
Space's token) therefore reach that origin only. gradio_client hands its `httpx_kwargs` to every httpx
call it makes, so `PinnedApp.httpx_kwargs()` puts its traffic under the same guard.

A Space's host on the hf backend is a name the Hub gives (`https://<owner>-<name>.hf.space`): it is not
pinned to an address, since TLS names it and a pinned IP would defeat the certificate check; the guard
still holds every request to that one origin.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv6Address, ip_address
from typing import Any

import httpx

from space_factory.domain.errors import InvalidTarget
from space_factory.domain.targets import AppUrl, IpAddress, is_loopback

__all__ = ["OffOrigin", "OriginGuard", "PinnedApp", "pin_app"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
Resolver = Callable[..., list[tuple[Any, ...]]]


class OffOrigin(httpx.TransportError):
    """A request or a connection for another origin than the app's, refused before anything was sent."""


class OriginGuard(httpx.Auth):
    """An httpx `auth` that lets requests through only to `origin`, redirects and reused connections included.

    httpx runs an auth flow once per request, not per redirect hop, so the flow also installs httpcore's
    `trace` hook (carried onto every hop), which is called before each TCP connect and before each
    request's headers are written: both are checked too.
    """

    def __init__(self, origin: AppUrl) -> None:
        self.origin = origin

    def allows(self, scheme: str, host: str, port: int | None) -> bool:
        host = host.strip("[]").lower()
        port = port if port is not None else _DEFAULT_PORTS.get(scheme)
        return (scheme, host, port) == (self.origin.scheme, self.origin.host, self.origin.port)

    def _require(self, scheme: str, host: str, port: int | None) -> None:
        if not self.allows(scheme, host, port):
            shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
            raise OffOrigin(f"refused a request for {scheme}://{shown}:{port}: the check talks only to "
                            f"{self.origin.origin}")

    def trace_target(self, event: str, info: dict[str, Any]) -> tuple[str, str, int | None] | None:
        """The (scheme, host, port) an httpcore `trace` event is about to reach: a TCP connect or a request's
        headers; None for every other event. (httpcore and httpcore2 name their events alike.)"""
        if event.endswith(".connect_tcp.started"):
            return self.origin.scheme, str(info.get("host", "")), info.get("port")
        if event.endswith(".send_request_headers.started"):
            url = info["request"].url
            return url.scheme.decode("ascii"), url.host.decode("ascii"), url.port
        return None

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if (target := self.trace_target(event, info)) is not None:
            self._require(*target)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._require(request.url.scheme, request.url.host, request.url.port)
        request.extensions = {**request.extensions, "trace": self._trace}
        yield request


@dataclass(frozen=True)
class PinnedApp:
    """An app URL and how to reach it.

    Attributes:
        url: the URL as the evidence names it.
        dial: the same URL with its host replaced by the address it was pinned to.
        headers: sent with every request; only `dial`'s origin ever receives them.
    """

    url: AppUrl
    dial: AppUrl
    headers: Mapping[str, str] = field(default_factory=dict)

    def httpx_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for httpx (and gradio_client's `httpx_kwargs`): the guard, and no environment.

        `trust_env=False`: no proxy from the environment (it would receive the traffic) and no `.netrc`
        (it would add credentials).
        """
        return {"auth": OriginGuard(self.dial), "trust_env": False}


def pin_app(url: AppUrl, *, loopback_only: bool, headers: Mapping[str, str] | None = None,
            resolve: Resolver = socket.getaddrinfo) -> PinnedApp:
    """Resolve `url`'s host once and pin the check to the address.

    Args:
        url: the parsed app URL (`domain.targets`).
        loopback_only: the local backend's rule: the address, and every address a name resolves to,
            must be loopback.
        headers: what the app's origin may receive.
        resolve: `socket.getaddrinfo`, or a stand-in in tests.

    Raises:
        InvalidTarget: the address is not loopback (under `loopback_only`), or the name does not resolve.
    """
    dial = url
    if url.address is not None:
        if loopback_only and not is_loopback(url.address):
            raise InvalidTarget(url.url, f"it means {url.address}, which is not a loopback address")
    elif loopback_only:
        try:
            infos = resolve(url.host, url.port, type=socket.SOCK_STREAM)
        except OSError:
            raise InvalidTarget(url.url, f"{url.host!r} does not resolve on this machine") from None
        addresses = [_address(info[4][0]) for info in infos]
        if not addresses or not all(is_loopback(a) for a in addresses):
            shown = ", ".join(sorted({str(a) for a in addresses})) or "nothing"
            raise InvalidTarget(url.url, f"{url.host!r} resolves to {shown}, not only to loopback addresses")
        dial = url.pinned_to(addresses[0])
    return PinnedApp(url=url, dial=dial, headers=dict(headers or {}))


def _address(text: str) -> IpAddress:
    address = ip_address(text.split("%", 1)[0])
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
