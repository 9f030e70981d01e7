"""shared/auth.py `RememberedTokens`: an accepted token is not checked again for a while, never past its expiry;
refused tokens are checked every time."""

from __future__ import annotations

from dataclasses import dataclass, field

import jwt
import pytest
from fastapi import Depends, FastAPI
from httpx import ASGITransport, AsyncClient

from shared.auth import (
    JwtConfig,
    LocalVerifier,
    Principal,
    RememberedTokens,
    install_verifier,
    mint_token,
    require_roles,
)

CONFIG = JwtConfig("s" * 32, "be.diplomatie.consular", "consular-platform")


@dataclass(frozen=True)
class CountingVerifier(LocalVerifier):
    """The local verifier, keeping the tokens it was asked to check."""

    config: JwtConfig = CONFIG
    asked: list[str] = field(default_factory=list)

    @property
    def checked(self) -> int:
        return len(self.asked)

    async def verify(self, token: str) -> Principal:
        self.asked.append(token)
        return await super().verify(token)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_an_accepted_token_is_checked_again_only_after_keep_seconds() -> None:
    token = mint_token(CONFIG, subject="officer-7", roles=["duty_officer"], ttl_seconds=3600)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    inner, clock = CountingVerifier(), Clock(exp - 3000)
    remembered = RememberedTokens(inner, keep_seconds=60, clock=clock)
    first = await remembered.verify(token)
    assert (first.subject, first.roles, first.expires_at) == ("officer-7", frozenset({"duty_officer"}), exp)
    clock.now += 59
    assert await remembered.verify(token) == first
    assert inner.checked == 1
    clock.now += 1
    assert await remembered.verify(token) == first
    assert inner.checked == 2


async def test_a_token_is_not_remembered_past_its_expiry() -> None:
    token = mint_token(CONFIG, subject="officer-7", roles=["duty_officer"], ttl_seconds=3600)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    inner, clock = CountingVerifier(), Clock(exp - 30)  # 30 s before its expiry: remembered 30 s, not 60
    remembered = RememberedTokens(inner, keep_seconds=60, clock=clock)
    await remembered.verify(token)
    clock.now = exp - 0.5
    await remembered.verify(token)
    assert inner.checked == 1
    clock.now = exp  # from here on the signature check answers (and, on the real clock, says expired)
    await remembered.verify(token)
    assert inner.checked == 2


async def test_refused_tokens_are_checked_every_time() -> None:
    inner = CountingVerifier()
    remembered = RememberedTokens(inner)
    forged = jwt.encode({"sub": "x", "roles": ["admin"], "exp": 4_102_444_800, "iss": CONFIG.issuer,
                         "aud": CONFIG.audience}, "another secret of 32 bytes or more", algorithm="HS256")
    for _ in range(3):
        with pytest.raises(jwt.InvalidSignatureError):
            await remembered.verify(forged)
    assert inner.checked == 3
    assert not remembered._accepted


async def test_the_memory_is_bounded_and_forgets_expired_tokens_first() -> None:
    inner, clock = CountingVerifier(), Clock(0.0)
    remembered = RememberedTokens(inner, keep_seconds=60, max_tokens=3, clock=clock)
    tokens = [mint_token(CONFIG, subject=f"officer-{i}", roles=["duty_officer"]) for i in range(5)]
    clock.now = jwt.decode(tokens[0], options={"verify_signature": False})["iat"]
    await remembered.verify(tokens[0])
    clock.now += 61  # tokens[0] no longer remembered
    await remembered.verify(tokens[1])
    await remembered.verify(tokens[2])
    await remembered.verify(tokens[3])  # full: the expired one goes
    assert set(remembered._accepted) == set(tokens[1:4])
    await remembered.verify(tokens[4])  # full of valid ones: starts again
    assert set(remembered._accepted) == {tokens[4]}


async def test_the_routes_check_an_officers_token_once_and_a_replaced_verifier_at_once() -> None:
    app = FastAPI()
    inner = CountingVerifier()
    install_verifier(app, inner)

    @app.get("/private")
    async def private(principal: Principal = Depends(require_roles("duty_officer"))) -> dict[str, str]:
        return {"subject": principal.subject}

    token = mint_token(CONFIG, subject="officer-7", roles=["duty_officer"])
    headers = {"Authorization": f"Bearer {token}"}
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        for _ in range(3):
            assert (await client.get("/private", headers=headers)).json() == {"subject": "officer-7"}
        assert inner.checked == 1
        app.state.token_verifier = replaced = CountingVerifier()  # as tests do: the new one answers
        assert (await client.get("/private", headers=headers)).status_code == 200
        assert (inner.checked, replaced.checked) == (1, 1)
