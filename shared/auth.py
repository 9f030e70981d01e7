"""JWT bearer authentication with the contract's roles, as FastAPI dependencies, and token minting."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Literal

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

Role = Literal["duty_officer", "coordinator", "external_system", "admin"]
ROLES: tuple[Role, ...] = ("duty_officer", "coordinator", "external_system", "admin")
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]


@dataclass(frozen=True)
class JwtConfig:
    secret: str
    issuer: str
    audience: str


def mint_token(config: JwtConfig, *, subject: str, roles: list[str], ttl_seconds: int = 3600) -> str:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}; known: {list(ROLES)}")
    now = int(time.time())
    claims = {"sub": subject, "roles": roles, "iat": now, "exp": now + ttl_seconds,
              "iss": config.issuer, "aud": config.audience}
    return jwt.encode(claims, config.secret, algorithm=ALGORITHM)


def verify_token(config: JwtConfig, token: str) -> Principal:
    """Raises jwt.InvalidTokenError (expired, bad signature, malformed, wrong issuer or audience)."""
    claims = jwt.decode(
        token, config.secret, algorithms=[ALGORITHM], issuer=config.issuer, audience=config.audience,
        options={"require": ["exp", "sub", "iss", "aud"]},
    )
    roles = claims.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise jwt.InvalidTokenError("roles claim must be a list of strings")
    return Principal(subject=str(claims["sub"]), roles=frozenset(roles))


_bearer = HTTPBearer(auto_error=False)
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def _jwt_config(request: Request) -> JwtConfig:
    config = getattr(request.app.state, "jwt_config", None)
    if not isinstance(config, JwtConfig):
        raise RuntimeError("app.state.jwt_config is not set: call shared.http.install_common")
    return config


def require_roles(*allowed: Role):  # type: ignore[no-untyped-def]
    """A dependency that admits a valid token carrying one of `allowed` roles: 401 otherwise, 403 wrong role."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "missing bearer token", headers=_UNAUTHORIZED)
        try:
            principal = verify_token(_jwt_config(request), credentials.credentials)
        except jwt.ExpiredSignatureError:
            raise HTTPException(401, "token expired", headers=_UNAUTHORIZED) from None
        except jwt.InvalidTokenError:
            raise HTTPException(401, "invalid token", headers=_UNAUTHORIZED) from None
        if not principal.roles.intersection(allowed):
            raise HTTPException(403, f"requires one of the roles {list(allowed)}")
        request.state.principal = principal
        return principal

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the route-table security test
    return dependency
