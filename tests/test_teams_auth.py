"""Bot Framework authentication at the protocol level: RS256 tokens signed by a local OpenID
metadata + JWKS service (in a thread), checked by botbuilder behind our own handler, and the
token deskbot presents on its own calls to the Bot Connector."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.teams_fake import (
    ALEX,
    APP_ID,
    PRIYA,
    TENANT,
    AzureFake,
    azure_fake,
    message,
    personal,
    teams_world,
)

VPN = "how can I use the VPN at home"


@pytest.fixture(scope="module")
def azure() -> Iterator[AzureFake]:
    with azure_fake() as fake:
        yield fake


async def test_a_valid_token_is_accepted_and_replies_carry_our_token(
    demo_url: str, azure: AzureFake
) -> None:
    async with teams_world(demo_url, azure) as world:
        replies = await world.say(ALEX, VPN)
        assert len(replies) == 2 and "vpn.example.com" in replies[-1].words
        outgoing = [c for c in world.connector.calls if c.method in ("POST", "GET")]
        assert outgoing and all(c.authorization is not None for c in outgoing)
        assert {c.authorization for c in outgoing} <= {f"Bearer {t}" for t in azure.issued}

        request = azure.token_requests[-1]
        assert request["tenant"] == "botframework.com"  # multi-tenant
        assert request["grant_type"] == "client_credentials"
        assert request["client_id"] == APP_ID
        assert request["scope"] == "https://api.botframework.com/.default"


async def test_a_single_tenant_bot_gets_tokens_from_its_tenant(
    demo_url: str, azure: AzureFake
) -> None:
    async with teams_world(
        demo_url, azure, MicrosoftAppType="SingleTenant", MicrosoftAppTenantId=TENANT
    ) as world:
        assert len(await world.say(PRIYA, VPN)) == 2
        assert azure.token_requests[-1]["tenant"] == TENANT


def _rejected(azure: AzureFake, service_url: str) -> dict[str, str | None]:
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bearer = "Bearer {}".format
    return {
        "wrong audience": bearer(azure.mint(service_url, aud="another-bot")),
        "wrong issuer": bearer(azure.mint(service_url, iss="https://sts.example.com/")),
        "expired": bearer(azure.mint(service_url, exp=now - 3600, nbf=now - 7200, iat=now - 7200)),
        "not valid yet": bearer(azure.mint(service_url, nbf=now + 3600, iat=now + 3600)),
        "bad signature": bearer(azure.mint(service_url, key=other_key)),
        "unknown key id": bearer(azure.mint(service_url, kid="rotated-away")),
        "serviceUrl claim mismatch": bearer(azure.mint("https://smba.example.net/emea/")),
        "no serviceUrl claim": bearer(azure.mint(service_url, serviceurl=None)),
        "no audience": bearer(azure.mint(service_url, aud=None)),
        "missing header": None,
        "empty header": "",
        "garbage header": "garbage",
        "garbage token": "Bearer not.a.token",
        "basic scheme": "Basic YWxleDpzZWNyZXQ=",
        "scheme only": "Bearer",
        "unsigned token": bearer(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
            "eyJpc3MiOiJodHRwczovL2FwaS5ib3RmcmFtZXdvcmsuY29tIn0."
        ),
    }


async def test_every_authentication_failure_is_401_and_the_bot_never_runs(
    demo_url: str, azure: AzureFake
) -> None:
    async with teams_world(demo_url, azure) as world:
        url = world.connector.url
        for case, header in _rejected(azure, url).items():
            activity = message(ALEX, VPN)
            answer = await world.teams.send(activity, token=header)
            assert answer.status == 401, (case, answer)
            assert answer.json() == {"error": "unauthorized"}
        # a token for Teams does not let another channel in (the key is endorsed for msteams)
        other_channel = message(ALEX, VPN) | {"channelId": "slack"}
        assert (await world.teams.send(other_channel)).status == 401

        assert world.connector.calls == []  # no reply, no roster lookup
        conversation = world.bot.services.conversations.find("teams", personal(ALEX)["id"])
        assert conversation is None  # the dialogue core never saw the messages

        # and the server is fine: a properly signed message still gets its answer
        assert len(await world.say(ALEX, VPN)) == 2
        async with world.teams.session.get(world.bot.url + "/metrics") as metrics:
            exposed = await metrics.text()
        rejected = len(_rejected(azure, url)) + 1
        assert f'deskbot_teams_requests_total{{status="401"}} {rejected}.0' in exposed
        assert 'deskbot_teams_requests_total{status="201"} 1.0' in exposed


async def test_invoke_with_a_valid_token_returns_its_body(demo_url: str, azure: AzureFake) -> None:
    async with teams_world(demo_url, azure) as world:
        # an invoke deskbot does not handle: acknowledged with an empty body, not a 500 or 501
        invoke: dict[str, Any] = message(ALEX, "") | {"type": "invoke", "name": "task/fetch"}
        answer = await world.teams.send(invoke)
        assert answer.status == 200 and answer.json() == {}
