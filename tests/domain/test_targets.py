"""The validation-target parser and the backends' address rules (issue 8 items 1, 2 and 6; DESIGN §9).

Every form an address can be spelled in is judged by the address it really means; a target with a query,
a fragment, credentials or a control character is refused, and the refusal never repeats the secret part.
"""

from __future__ import annotations

import random
import secrets
from ipaddress import IPv4Address, IPv6Address

import pytest

from space_factory.domain.errors import InvalidTarget
from space_factory.domain.ids import mint_run_id
from space_factory.domain.targets import (
    AppUrl,
    SpaceTarget,
    admit,
    is_loopback,
    loopback_only,
    parse_app_url,
    parse_target,
    space_id_candidates,
    space_subdomain,
)

# Made at run time: never a token-shaped literal in the tree.
TOKEN = "hf_" + secrets.token_hex(17)


# -- what parses, and what it means -----------------------------------------------------------------

@pytest.mark.parametrize(("raw", "url", "address"), [
    ("http://127.0.0.1:7860/", "http://127.0.0.1:7860/", "127.0.0.1"),
    ("http://127.0.0.1:7860", "http://127.0.0.1:7860", "127.0.0.1"),
    ("HTTP://127.0.0.1:7860/", "http://127.0.0.1:7860/", "127.0.0.1"),
    ("http://2130706433:7860/", "http://127.0.0.1:7860/", "127.0.0.1"),
    ("http://0x7f000001/", "http://127.0.0.1/", "127.0.0.1"),
    ("http://0X7F000001/", "http://127.0.0.1/", "127.0.0.1"),
    ("http://127.1/", "http://127.0.0.1/", "127.0.0.1"),
    ("http://127.0.1/", "http://127.0.0.1/", "127.0.0.1"),
    ("http://0177.0.0.1/", "http://127.0.0.1/", "127.0.0.1"),
    ("http://0x7f.0.0.1/", "http://127.0.0.1/", "127.0.0.1"),
    ("http://0x7f.1/", "http://127.0.0.1/", "127.0.0.1"),
    ("http://017700000001/", "http://127.0.0.1/", "127.0.0.1"),
    ("http://127.000.000.001/", "http://127.0.0.1/", "127.0.0.1"),
    ("http://127.0.0.1./", "http://127.0.0.1/", "127.0.0.1"),
    ("http://127.0.0.0x1/", "http://127.0.0.1/", "127.0.0.1"),
    ("http://[::1]:7860/", "http://[::1]:7860/", "::1"),
    ("http://[0:0:0:0:0:0:0:1]/", "http://[::1]/", "::1"),
    ("http://[::ffff:127.0.0.1]:9/", "http://127.0.0.1:9/", "127.0.0.1"),
    ("http://[::ffff:7f00:1]/", "http://127.0.0.1/", "127.0.0.1"),
    ("http://[::FFFF:169.254.169.254]/", "http://169.254.169.254/", "169.254.169.254"),
    ("http://2852039166/", "http://169.254.169.254/", "169.254.169.254"),
    ("http://0xa9fea9fe/", "http://169.254.169.254/", "169.254.169.254"),
    ("http://0251.0376.0251.0376/", "http://169.254.169.254/", "169.254.169.254"),
    ("http://169.254.43518/", "http://169.254.169.254/", "169.254.169.254"),
    ("http://0/", "http://0.0.0.0/", "0.0.0.0"),
    ("http://127.0.0.1:80/", "http://127.0.0.1/", "127.0.0.1"),
    ("https://127.0.0.1:443/app", "https://127.0.0.1/app", "127.0.0.1"),
])
def test_every_spelling_of_an_address_parses_to_the_address_it_means(raw: str, url: str, address: str) -> None:
    parsed = parse_app_url(raw)
    assert parsed.url == url
    assert str(parsed.address) == address


@pytest.mark.parametrize(("raw", "host"), [
    ("http://localhost:7860/", "localhost"), ("http://LOCALHOST:7860/", "localhost"),
    ("http://localhost.:7860/", "localhost"), ("https://Alice-App.HF.space/", "alice-app.hf.space"),
    ("http://my-app.internal/", "my-app.internal"),
])
def test_names_are_lower_cased_without_the_root_dot_and_carry_no_address(raw: str, host: str) -> None:
    parsed = parse_app_url(raw)
    assert parsed.host == host and parsed.address is None


def test_a_space_id_is_a_space_target_and_its_text_is_the_id() -> None:
    assert parse_target("tester/app") == SpaceTarget("tester/app")
    assert parse_target("Owner_1/My.App-2").text == "Owner_1/My.App-2"


def test_a_clean_url_round_trips_unchanged() -> None:
    """The canonical text of an already canonical URL is the input: stored runs keep their spelling."""
    for raw in ("http://127.0.0.1:41234/", "https://alice-app.hf.space", "http://[::1]:9/a/b/", "http://localhost/x"):
        assert parse_target(raw).text == raw


@pytest.mark.parametrize(("raw", "endpoint", "joined"), [
    ("http://127.0.0.1:7860", "health", "http://127.0.0.1:7860/health"),
    ("http://127.0.0.1:7860/", "health", "http://127.0.0.1:7860/health"),
    ("http://127.0.0.1:7860/app", "config", "http://127.0.0.1:7860/app/config"),
    ("http://127.0.0.1:7860/app/", "health", "http://127.0.0.1:7860/app/health"),
    ("http://[::1]:7860/", "gradio_api/info", "http://[::1]:7860/gradio_api/info"),
    ("https://alice-app.hf.space", "health", "https://alice-app.hf.space/health"),
])
def test_endpoints_are_joined_onto_the_parsed_origin_and_path(raw: str, endpoint: str, joined: str) -> None:
    assert parse_app_url(raw).join(endpoint) == joined


@pytest.mark.parametrize("endpoint", ["../etc", "/health", "health?x=1", "health#", "", "a//b", "Health"])
def test_join_takes_only_plain_endpoint_names(endpoint: str) -> None:
    with pytest.raises(ValueError):
        parse_app_url("http://127.0.0.1/").join(endpoint)


def test_same_origin_compares_scheme_host_and_port() -> None:
    a = parse_app_url("http://127.0.0.1:7860/x")
    assert a.same_origin(parse_app_url("http://127.0.0.1:7860/"))
    assert not a.same_origin(parse_app_url("http://127.0.0.1:7861/"))
    assert not a.same_origin(parse_app_url("https://127.0.0.1:7860/"))
    assert not a.same_origin(parse_app_url("http://localhost:7860/"))


def test_pinning_a_name_keeps_the_path_and_port() -> None:
    pinned = parse_app_url("http://localhost:7860/app/").pinned_to(IPv6Address("::1"))
    assert pinned.url == "http://[::1]:7860/app/"
    assert pinned.pinned_to(IPv4Address("127.0.0.1")).join("health") == "http://127.0.0.1:7860/app/health"


# -- what is refused by every backend ---------------------------------------------------------------

@pytest.mark.parametrize(("raw", "rule"), [
    ("", "empty"),
    ("x" * 501, "longer than 500"),
    ("http://127.0.0.1/" + "a" * 490, "longer than 500"),
    ("   ", "neither a URL nor"),
    ("not an id", "neither a URL nor"),
    ("javascript:alert(1)", "neither a URL nor"),
    ("a/b/c", "neither a URL nor"),
    ("../../etc/passwd", "neither a URL nor"),
    ("tester/app\r\n", "neither a URL nor"),
    ("ftp://127.0.0.1/app", "only http(s)"),
    ("file:///etc/passwd", "only http(s)"),
    ("gopher://127.0.0.1:6379/_FLUSHALL", "only http(s)"),
    ("ws://127.0.0.1:7860/", "only http(s)"),
    ("http://", "only http(s)"),
    ("http:///health", "only http(s)"),
    ("://127.0.0.1/", "only http(s)"),
    ("h ttp://127.0.0.1/", "whitespace"),
    ("http://user:pw@127.0.0.1:9/", "credentials"),
    ("http://user@127.0.0.1/", "credentials"),
    ("http://:@127.0.0.1/", "credentials"),
    ("http://127.0.0.1@169.254.169.254/", "credentials"),
    ("http://127.0.0.1:7860/?x=", "query or a fragment"),
    ("http://127.0.0.1:7860/#", "query or a fragment"),
    ("http://127.0.0.1:7860?", "query or a fragment"),
    ("http://127.0.0.1:7860/#@169.254.169.254/", "query or a fragment"),
    ("http://127.0.0.1:7860/\r\nX-Injected: 1", "control character"),
    ("http://127.0.0.1:7860/\r\n", "control character"),
    ("http://127.0.0.1\x00:7860/", "control character"),
    ("http://127.0.0.1:7860/\x00", "control character"),
    ("http://127.0.0.1:7860/\t", "control character"),
    ("\thttp://127.0.0.1:7860/", "whitespace"),
    (" http://127.0.0.1:7860/", "whitespace"),
    ("http://127.0.0.1:7860/ ", "whitespace"),
    ("http://127.0.0.1:7860/a b", "whitespace"),
    ("http://127.0.0.1:7860/\x7f", "control character"),
    ("http://１２７.0.0.1/", "non-ASCII"),
    ("http://lоcalhost/", "non-ASCII"),  # Cyrillic 'о'
    ("http://127.0.0.1:7860/é", "non-ASCII"),
    ("http://127.0.0.1:0/", "port"),
    ("http://127.0.0.1:65536/", "port"),
    ("http://127.0.0.1:99999/", "port"),
    ("http://127.0.0.1:-1/", "port"),
    ("http://127.0.0.1:/", "port"),
    ("http://127.0.0.1:0x50/", "port"),
    ("http://127.0.0.1:123456/", "port"),
    ("http://127.0.0.1:80:80/", "more than one ':'"),
    ("http://::1/", "more than one ':'"),
    ("http://[::1/", "closing ']'"),
    ("http://[::1]x/", "':port'"),
    ("http://[fe80::1%25eth0]/", "no zone id"),
    ("http://[::1%lo]/", "no zone id"),
    ("http://[127.0.0.1]/", "not an IPv6"),
    ("http://[gggg::1]/", "IPv6 host holds only"),
    ("http://[]/", "IPv6 host holds only"),
    ("http://256.0.0.1/", "not an IPv4"),
    ("http://1.2.3.4.5/", "not an IPv4"),
    ("http://08.0.0.1/", "not an IPv4"),
    ("http://0x100000000/", "not an IPv4"),
    ("http://4294967296/", "not an IPv4"),
    ("http://127.0.0.256/", "not an IPv4"),
    ("http://127..1/", "not an IPv4"),
    ("http://example.0x7f/", "not an IPv4"),
    ("http://%31%32%37.0.0.1/", "not an IPv4"),
    ("http://%6cocalhost/", "not a DNS name"),
    ("http://local_host/", "not a DNS name"),
    ("http://-bad.example/", "not a DNS name"),
    ("http://a..b/", "not a DNS name"),
    ("http://" + "a" * 64 + ".example/", "not a DNS name"),
    ("http://evil.com\\@127.0.0.1/", "credentials"),
    ("http://evil.com\\.127.0.0.1/", "not an IPv4"),
    ("http://evil.com\\/", "not a DNS name"),
    ("http://127.0.0.1:7860/../admin", "'.' or '..'"),
    ("http://127.0.0.1:7860/./x", "'.' or '..'"),
    ("http://127.0.0.1:7860/%2e%2e/x", "'.' or '..'"),
    ("http://127.0.0.1:7860/%2E/", "'.' or '..'"),
    ("http://127.0.0.1:7860//169.254.169.254/", "empty segment"),
    ("http://127.0.0.1:7860/a%2fb", "encodes a '/'"),
    ("http://127.0.0.1:7860/a%5cb", "encodes a '/'"),
    ("http://127.0.0.1:7860/a%0d%0aX:1", "control character"),
    ("http://127.0.0.1:7860/a%00", "control character"),
    ("http://127.0.0.1:7860/a\\b", "percent-encoded"),
    ("http://127.0.0.1:7860/a%zz", "percent-encoded"),
    ("http://127.0.0.1:7860/a%2", "percent-encoded"),
    ("http://127.0.0.1:7860/<script>", "percent-encoded"),
    ("http://127.0.0.1:7860/a\"b", "percent-encoded"),
    ("http://127.0.0.1:7860/{x}", "percent-encoded"),
])
def test_malformed_and_unsafe_targets_are_refused_with_the_rule(raw: str, rule: str) -> None:
    with pytest.raises(InvalidTarget) as caught:
        parse_target(raw)
    assert rule in caught.value.rule


def test_a_target_that_is_not_text_is_refused() -> None:
    for raw in (None, 7, b"http://127.0.0.1/", ["tester/app"]):
        with pytest.raises(InvalidTarget):
            parse_target(raw)


@pytest.mark.parametrize("raw", [
    f"http://127.0.0.1:7860/?token={TOKEN}",
    f"http://127.0.0.1:7860/?x=1&access_token={TOKEN}",
    f"http://127.0.0.1:7860/#access_token={TOKEN}",
    f"http://127.0.0.1:7860#{TOKEN}",
    f"http://{TOKEN}@127.0.0.1:7860/",
    f"http://user:{TOKEN}@127.0.0.1:7860/",
    f"http://127.0.0.1:7860/{TOKEN}/",
    f"http://127.0.0.1:7860/\r\n{TOKEN}",
    f"{TOKEN}/app",
    f"tester/{TOKEN}",
    f"https://alice-app.hf.space/?t={TOKEN}",
    f"http://localhost:7860/%3Ftoken%3D{TOKEN}",
])
def test_a_secret_in_a_target_is_refused_and_never_repeated(raw: str) -> None:
    """Issue 8 item 2: a secret in a target never reaches the run id, `state.model` or the error text."""
    with pytest.raises(InvalidTarget) as caught:
        parse_target(raw)
    message = str(caught.value) + caught.value.target
    for i in range(len(TOKEN) - 11):
        assert TOKEN[i:i + 12] not in message


def test_the_text_of_an_accepted_target_holds_no_query_fragment_credentials_or_whitespace() -> None:
    """A seeded fuzz: whatever parses is clean, so the run id and `state.model` made from it are clean too."""
    rng = random.Random(8)
    schemes = ["http://", "https://", "HTTP://", "ftp://", "http:/", ""]
    hosts = ["127.0.0.1", "localhost", "[::1]", "0x7f000001", "127.1", "alice-app.hf.space", "[::ffff:7f00:1]",
             "a@127.0.0.1", "127.0.0.1.", "", "[", "1.2.3.4.5"]
    ports = ["", ":7860", ":0", ":", ":65536", ":80"]
    bits = ["/", "/app", "%2e", "%41", "..", ".", "?", "#", "\r", "\n", "\x00", " ", "\\", "é", "@", "%", "x"]
    accepted = 0
    for _ in range(3000):
        raw = rng.choice(schemes) + rng.choice(hosts) + rng.choice(ports) + "".join(
            rng.choice(bits) for _ in range(rng.randint(0, 4)))
        try:
            target = parse_target(raw)
        except InvalidTarget as exc:
            assert "\r" not in str(exc) and "\n" not in str(exc) and "\x00" not in str(exc)
            continue
        accepted += 1
        text = target.text
        assert not any(ch in text for ch in "?#@ \\\r\n\x00") and text.isascii()
        assert parse_target(text) == target  # canonical text parses back to the same value
        run_id = mint_run_id(text)
        assert run_id.isascii() and " " not in run_id
    assert accepted > 100


# -- the local backend: loopback only -------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    "http://127.0.0.1:7860/", "http://127.255.255.254/", "http://127.1/", "http://2130706433/",
    "http://0x7f000001/", "http://0177.0.0.1/", "http://0x7f.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/", "http://localhost:7860/", "http://LOCALHOST/", "http://localhost./",
    "http://127.0.0.1:7860/app/", "https://127.0.0.1/",
])
def test_the_local_backend_admits_loopback_apps_in_every_spelling(raw: str) -> None:
    target = admit(parse_target(raw), "local")
    assert isinstance(target, AppUrl)
    if target.address is None:
        assert target.host == "localhost"
    else:
        assert is_loopback(target.address)


@pytest.mark.parametrize("raw", [
    "http://169.254.169.254/latest/meta-data/", "http://169.254.169.254:80/", "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/", "http://2852039166/", "http://0xa9fea9fe/", "http://0251.0376.0251.0376/",
    "http://169.254.43518/", "http://169.16689662/", "http://10.0.0.1/", "http://012.0.0.1/", "http://0xa.1/",
    "http://167772161/", "http://192.168.1.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://8.8.8.8/",
    "http://224.0.0.1/", "http://255.255.255.255/", "http://0.0.0.0:7860/", "http://0/", "http://[::]/",
    "http://[::127.0.0.1]/", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/", "http://[fe80::1]/",
    "http://[fc00::1]/", "http://[fd00:ec2::254]/", "http://[::2]/", "http://metadata.google.internal/",
    "http://metadata/", "http://example.com/", "http://foo.localhost/", "http://localhost.localdomain/",
    "http://127.0.0.1.nip.io/", "http://localtest.me/", "http://localhost.evil.com/", "http://ip6-localhost/",
    "https://alice-app.hf.space/",
])
def test_the_local_backend_refuses_every_other_address_before_anything_resolves(raw: str) -> None:
    with pytest.raises(InvalidTarget) as caught:
        admit(parse_target(raw), "local")
    assert "loopback" in caught.value.rule


def test_the_refusal_names_the_address_a_strange_spelling_means() -> None:
    with pytest.raises(InvalidTarget) as caught:
        loopback_only(parse_app_url("http://0xa9fea9fe/"))
    assert "169.254.169.254" in caught.value.rule


def test_space_ids_need_no_address_rule() -> None:
    assert admit(parse_target("tester/app"), "local") == SpaceTarget("tester/app")
    assert admit(parse_target("alice/app"), "hf") == SpaceTarget("alice/app")


# -- the hf backend: a Space, by id or by its own URL --------------------------------------------------

@pytest.mark.parametrize(("raw", "candidates"), [
    ("https://alice-app.hf.space/", ("alice/app",)),
    ("https://alice-app.hf.space", ("alice/app",)),
    ("https://ALICE-APP.hf.space./", ("alice/app",)),
    ("https://alice-my-app.hf.space", ("alice/my-app", "alice-my/app")),
    ("https://a-b-c-d.hf.space", ("a/b-c-d", "a-b/c-d", "a-b-c/d")),
])
def test_a_space_url_maps_to_the_space_ids_it_can_be(raw: str, candidates: tuple[str, ...]) -> None:
    url = admit(parse_target(raw), "hf")
    assert isinstance(url, AppUrl)
    assert space_id_candidates(url) == candidates
    assert all(space_subdomain(c) == url.host.split(".")[0] for c in candidates)


@pytest.mark.parametrize("raw", [
    "http://127.0.0.1:7860/", "http://localhost/", "http://169.254.169.254/", "https://huggingface.co/spaces/a/b",
    "http://alice-app.hf.space/", "https://alice-app.hf.space:8443/", "https://alice-app.hf.space/x",
    "https://a.b.hf.space/", "https://hf.space/", "https://alice.hf.space/", "https://alice-.hf.space/",
    "https://alice-app.hf.space.evil.com/", "https://alice-app.hf.spaces/", "https://evil.com/alice-app.hf.space",
    "https://-alice-app.hf.space/", "https://" + "a-" * 12 + "b.hf.space/",
])
def test_the_hf_backend_refuses_any_url_that_is_not_a_spaces_own(raw: str) -> None:
    with pytest.raises(InvalidTarget):
        admit(parse_target(raw), "hf")


@pytest.mark.parametrize(("space_id", "subdomain"), [
    ("alice/app", "alice-app"), ("Alice/My_App", "alice-my-app"), ("org.x/a.b", "org-x-a-b"),
])
def test_the_space_subdomain_is_lower_cased_with_dashes(space_id: str, subdomain: str) -> None:
    assert space_subdomain(space_id) == subdomain
