"""Validation targets (DESIGN §7 `validate_space`, §9): the one parser and the backends' address rules. Pure.

A target comes from an agent or a user, so it is parsed once, at the edge, into a typed value: a
`SpaceTarget` (`owner/name`) or an `AppUrl` (an http(s) URL with a host, an optional port and a plain path;
no credentials, query, fragment, whitespace, control or non-ASCII characters; at most 500 characters).
Everything downstream — the run id, `state.model`, the worker's requests — is made from that value only.

A host is judged by the address it really means, whatever its spelling: `2130706433`, `0x7f000001`,
`127.1` and `0177.0.0.1` all mean 127.0.0.1 (the WHATWG URL rules, which are also what `inet_aton`
accepts), and `[::ffff:169.254.169.254]` means 169.254.169.254. The canonical URL spells the address so.

The address rules (`admit`):
- local backend: only loopback apps — 127.0.0.0/8, ::1, or the name `localhost` (the worker resolves it
  once and pins the connection to the loopback address it gave).
- hf backend: a Space id, or the Space's own `https://<owner>-<name>.hf.space` URL, which the service maps
  back to its Space id through the Hub (`space_id_candidates`); the token then goes only to that Space.

    >>> parse_target("http://0x7f000001:7860/").url
    'http://127.0.0.1:7860/'
    >>> parse_target("tester/app")
    SpaceTarget(space_id='tester/app')
    >>> admit(parse_target("http://[::ffff:169.254.169.254]/"), "local")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    space_factory.domain.errors.InvalidTarget: invalid validation target: 'http://169.254.169.254/': it means ...
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from ipaddress import IPv4Address, IPv6Address, ip_network
from urllib.parse import unquote

from space_factory.domain.errors import InvalidInput, InvalidTarget
from space_factory.domain.ids import validate_space_id
from space_factory.domain.redaction import Redactor

__all__ = [
    "HF_SPACE_DOMAIN",
    "MAX_TARGET_CHARS",
    "AppUrl",
    "IpAddress",
    "SpaceTarget",
    "Target",
    "admit",
    "is_loopback",
    "loopback_only",
    "parse_app_url",
    "parse_target",
    "space_id_candidates",
    "space_subdomain",
]

MAX_TARGET_CHARS = 500
HF_SPACE_DOMAIN = "hf.space"
LOCALHOST = "localhost"
# The Hub splits `<owner>-<name>` at one of its dashes; past this many the lookups are not worth making.
MAX_SPACE_CANDIDATES = 8

IpAddress = IPv4Address | IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NUMERIC_LABEL_RE = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")
_IPV6_CHARS_RE = re.compile(r"[0-9A-Fa-f:.]+")
_PORT_RE = re.compile(r"[0-9]{1,5}")
# RFC 3986 path characters (pchar and '/') but '@', which reads as credentials to a human; '%' only as %HH.
_PATH_RE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:/]|%[0-9A-Fa-f]{2})*")
_ENDPOINT_RE = re.compile(r"[a-z0-9_-]+(?:/[a-z0-9_-]+)*")
_LOOPBACK_V4 = ip_network("127.0.0.0/8")
_SECRETS = Redactor()


@dataclass(frozen=True)
class SpaceTarget:
    """A Space named by its id; the backend's Space host says where its app answers."""

    space_id: str

    @property
    def text(self) -> str:
        """How the target is stored (`state.model`) and how the run id is made."""
        return self.space_id


@dataclass(frozen=True)
class AppUrl:
    """An app's http(s) URL, parsed: every field is checked, and the text is rebuilt from the fields only.

    Attributes:
        scheme: `http` or `https`.
        host: a lower-case DNS name without a trailing dot, or the canonical text of `address`.
        port: the port, the scheme's default when the URL named none.
        path: `""` or a path starting with `/` (no dot segments, no empty segments, no encoded `/`).
        address: the address an IP-literal host means (however it was spelled); None for a name.
    """

    scheme: str
    host: str
    port: int
    path: str = ""
    address: IpAddress | None = None

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if isinstance(self.address, IPv6Address) else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """`scheme://host[:port]`: what a request must match to be sent (the browser's same-origin rule)."""
        return f"{self.scheme}://{self.netloc}"

    @property
    def url(self) -> str:
        """The canonical text: the input itself when it was already canonical."""
        return self.origin + self.path

    @property
    def text(self) -> str:
        """How the target is stored (`state.model`) and how the run id is made."""
        return self.url

    def join(self, endpoint: str) -> str:
        """The URL of an endpoint of the app (`health`, `config`), under the app's base path.

        Built from the parsed fields, never by appending to the input text.

            >>> parse_app_url("http://127.0.0.1:7860").join("health")
            'http://127.0.0.1:7860/health'
            >>> parse_app_url("http://127.0.0.1:7860/app").join("config")
            'http://127.0.0.1:7860/app/config'
        """
        if not _ENDPOINT_RE.fullmatch(endpoint):
            raise ValueError(f"not an endpoint name: {endpoint!r}")
        base = self.path if self.path.endswith("/") else self.path + "/"
        return f"{self.origin}{base}{endpoint}"

    def same_origin(self, other: AppUrl) -> bool:
        return (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port)

    def pinned_to(self, address: IpAddress) -> AppUrl:
        """The same URL with its host replaced by `address`: what the worker dials once a name is resolved."""
        return replace(self, host=str(address), address=address)


Target = SpaceTarget | AppUrl


def _shown(raw: str) -> str:
    """The part of a refused target that is safe to quote back: no query, fragment, credentials or controls."""
    text = re.split(r"[?#]", raw[:MAX_TARGET_CHARS], maxsplit=1)[0]
    scheme, sep, rest = text.partition("://")
    if sep:
        netloc, slash, path = rest.partition("/")
        if "@" in netloc:
            netloc = "***@" + netloc.rsplit("@", 1)[1]
        text = f"{scheme}{sep}{netloc}{slash}{path}"
    decoded = unquote(text)
    if _SECRETS.redact_text(decoded) != decoded:
        text = decoded  # a percent-encoded secret: show the decoded text, where the redactor sees it
    # Controls go before the redactor looks (a token split by a line break is whole again), the rest after.
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = "".join(ch if " " < ch < "\x7f" else "?" for ch in _SECRETS.redact_text(text))
    return text[:120]


def _refuse(raw: str, rule: str) -> InvalidTarget:
    return InvalidTarget(_shown(raw), rule)


def parse_target(raw: object) -> Target:
    """Parse a validation target: an http(s) app URL, or a Space id `owner/name`.

    Raises:
        InvalidTarget: the value is neither; the message names the rule and never repeats a refused
            query, fragment or credential.

    Example:
        >>> parse_target("HTTP://LocalHost:7860/").url
        'http://localhost:7860/'
    """
    if not isinstance(raw, str) or not raw:
        raise InvalidTarget("" if not isinstance(raw, str) else raw, "it is empty or longer than 500 characters")
    if len(raw) > MAX_TARGET_CHARS:
        raise _refuse(raw, "it is empty or longer than 500 characters")
    if "://" in raw:
        return parse_app_url(raw)
    try:
        space_id = validate_space_id(raw)
    except InvalidInput:
        raise _refuse(raw, "it is neither a URL nor an 'owner/name' Space id") from None
    if _looks_secret(space_id):
        raise _refuse(raw, "it looks like it holds a secret, which would be stored with the run")
    return SpaceTarget(space_id)


def parse_app_url(raw: object) -> AppUrl:
    """Parse an app URL by the rules of this module's docstring.

    Raises:
        InvalidTarget: the first rule the value breaks.
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TARGET_CHARS:
        raise _refuse(raw if isinstance(raw, str) else "", "it is empty or longer than 500 characters")
    if any(not (" " < ch < "\x7f") for ch in raw):
        raise _refuse(raw, "it holds whitespace, a control character or a non-ASCII character "
                           "(percent-encode the path)")
    scheme, sep, rest = raw.partition("://")
    if not sep or not _SCHEME_RE.fullmatch(scheme) or scheme.lower() not in _DEFAULT_PORTS:
        raise _refuse(raw, "only http(s) URLs with a host can be validated")
    scheme = scheme.lower()
    if "?" in rest or "#" in rest:
        raise _refuse(raw, "a query or a fragment is refused (it could hold a secret, and the checks use fixed "
                           "paths); pass the app's base URL")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        raise _refuse(raw, "credentials in the URL are refused (they would be stored); use a token instead")
    host_text, port_text = _split_netloc(raw, netloc)
    host, address = _parse_host(raw, host_text)
    port = _DEFAULT_PORTS[scheme] if port_text is None else _parse_port(raw, port_text)
    url = AppUrl(scheme=scheme, host=host, port=port, path=_parse_path(raw, slash + path), address=address)
    if _looks_secret(url.url):
        raise _refuse(raw, "it looks like it holds a secret, which would be stored with the run")
    return url


def _looks_secret(text: str) -> bool:
    """Whether the redactor would hide part of `text`, as written or percent-decoded."""
    return any(_SECRETS.redact_text(form) != form for form in {text, unquote(text)})


def _split_netloc(raw: str, netloc: str) -> tuple[str, str | None]:
    if not netloc:
        raise _refuse(raw, "only http(s) URLs with a host can be validated")
    if netloc.startswith("["):
        host, bracket, after = netloc[1:].partition("]")
        if not bracket:
            raise _refuse(raw, "an IPv6 host needs its closing ']'")
        if after and not after.startswith(":"):
            raise _refuse(raw, "only a ':port' may follow an IPv6 host")
        return "[" + host + "]", after[1:] if after else None
    host, colon, port = netloc.partition(":")
    if ":" in port:
        raise _refuse(raw, "the host has more than one ':' (an IPv6 address goes in [brackets])")
    return host, port if colon else None


def _parse_port(raw: str, text: str) -> int:
    if not _PORT_RE.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise _refuse(raw, "the port is not a number from 1 to 65535")
    return int(text)


def _parse_host(raw: str, text: str) -> tuple[str, IpAddress | None]:
    """The canonical host and, for an IP literal in any spelling, the address it means."""
    if text.startswith("["):
        inner = text[1:-1]
        if not _IPV6_CHARS_RE.fullmatch(inner):
            raise _refuse(raw, "an IPv6 host holds only hex digits, ':' and '.' (no zone id)")
        try:
            v6 = IPv6Address(inner)
        except ValueError:
            raise _refuse(raw, "the [bracketed] host is not an IPv6 address") from None
        # An IPv4-mapped address is the IPv4 address on the wire: judge it, and spell it, as that.
        address: IpAddress = v6.ipv4_mapped or v6
        return str(address), address
    name = text.lower()
    if name.endswith("."):
        name = name[:-1]  # the root label: 'localhost.' is 'localhost'
    labels = name.split(".")
    if labels and _NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        v4 = _parse_ipv4(labels)
        if v4 is None:
            raise _refuse(raw, "the host ends in a number but is not an IPv4 address")
        return str(v4), v4
    if len(name) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise _refuse(raw, "the host is not a DNS name (letters, digits and '-' between dots) or an IP address")
    return name, None


def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 host as the WHATWG URL standard reads it: decimal, 0-prefixed octal, 0x-prefixed hex."""
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits:
        return 0 if base == 16 else None
    try:
        return int(digits, base)
    except ValueError:
        return None


def _parse_ipv4(labels: list[str]) -> IPv4Address | None:
    """1 to 4 numeric parts; the last fills the bytes the others leave (`127.1` is 127.0.0.1)."""
    if not 1 <= len(labels) <= 4:
        return None
    numbers = [_ipv4_number(label) if label else None for label in labels]
    if any(n is None for n in numbers):
        return None
    parts = [n for n in numbers if n is not None]
    if any(n > 255 for n in parts[:-1]) or parts[-1] >= 256 ** (5 - len(parts)):
        return None
    value = parts[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(parts[:-1]))
    return IPv4Address(value)


def _parse_path(raw: str, path: str) -> str:
    if not _PATH_RE.fullmatch(path):
        raise _refuse(raw, "the path holds a character that must be percent-encoded, or a bad %-escape")
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        decoded = unquote(segment)
        if decoded in (".", ".."):
            raise _refuse(raw, "the path has a '.' or '..' segment")
        if segment == "" and index < len(segments) - 1:
            raise _refuse(raw, "the path has an empty segment ('//')")
        if any(ch in "/\\" or not (" " <= ch != "\x7f") for ch in decoded):
            raise _refuse(raw, "the path encodes a '/', a '\\' or a control character")
    return path


def is_loopback(address: IpAddress) -> bool:
    """127.0.0.0/8 or ::1 (an IPv4-mapped address was already turned into its IPv4 address by the parser)."""
    if isinstance(address, IPv6Address):
        return address == IPv6Address("::1")
    return address in _LOOPBACK_V4


def loopback_only(url: AppUrl) -> AppUrl:
    """The local backend's rule: an app on this machine, by loopback address or by the name `localhost`.

    Raises:
        InvalidTarget: any other address or name (before anything connects or resolves).
    """
    where = "the local backend validates only apps on this machine (127.0.0.0/8, ::1, localhost)"
    if url.address is None:
        if url.host != LOCALHOST:
            raise InvalidTarget(url.url, f"{url.host!r} is not a loopback address or 'localhost'; {where}")
        return url
    if not is_loopback(url.address):
        raise InvalidTarget(url.url, f"it means {url.address}, which is not a loopback address; {where}")
    return url


def space_subdomain(space_id: str) -> str:
    """The `*.hf.space` label of a Space: `<owner>-<name>`, lower-cased, with '_' and '.' turned into '-'.

        >>> space_subdomain("Alice/My_App.v2")
        'alice-my-app-v2'
    """
    return re.sub(r"[_.]", "-", space_id.replace("/", "-")).lower()


def space_id_candidates(url: AppUrl) -> tuple[str, ...]:
    """The Space ids whose own URL `url` can be: one per way of splitting `<owner>-<name>` at a dash.

    The Hub says which of them exists (`Factory.validate` asks it); a Space whose id has capitals,
    '_' or '.' cannot be found from its URL, and is passed by id instead.

    Raises:
        InvalidTarget: `url` is not `https://<owner>-<name>.hf.space/`.

        >>> space_id_candidates(parse_app_url("https://alice-my-app.hf.space"))
        ('alice/my-app', 'alice-my/app')
    """
    how = "on the hf backend a target is a Space id ('owner/name') or its https://<owner>-<name>.hf.space URL"
    label, dot, domain = url.host.partition(".")
    if url.scheme != "https" or url.port != 443 or not dot or domain != HF_SPACE_DOMAIN or url.path not in ("", "/"):
        raise InvalidTarget(url.url, how)
    dashes = [i for i, ch in enumerate(label) if ch == "-"]
    if len(dashes) > MAX_SPACE_CANDIDATES:
        raise InvalidTarget(url.url, "its name has too many '-' to find the Space from it; pass the Space id")
    out: list[str] = []
    for i in dashes:
        candidate = f"{label[:i]}/{label[i + 1:]}"
        try:
            out.append(validate_space_id(candidate))
        except InvalidInput:
            continue
    if not out:
        raise InvalidTarget(url.url, how)
    return tuple(out)


def admit(target: Target, backend: str) -> Target:
    """Apply the backend's address rule to a parsed target (module docstring); return it unchanged.

    Raises:
        InvalidTarget: the target is not one this backend may check.
    """
    if isinstance(target, SpaceTarget):
        return target
    if backend == "hf":
        space_id_candidates(target)
        return target
    return loopback_only(target)
