"""JWT bearer authentication with the contract's roles, as FastAPI dependencies, and token minting.

Two verifiers, chosen by `AUTH_MODE` (shared/settings.py `AuthSettings`, installed by `shared.http.install_common`):

- `LocalVerifier` (`local`, development and the tests): HS256 tokens signed with `JWT_SECRET`, minted by
  `mint_token` (the console's and dashboard's password sign-in, `make token`).
- `OidcVerifier` (`oidc`, production): tokens of an OpenID Connect provider, signed with its private key (RS256,
  ES256...) and checked against the public keys it publishes (its JWKS), with this service's own audience and a
  bounded lifetime. HS256 tokens are refused whatever their secret. The key set is fetched on first use and again
  when a token names a key id it lacks (the provider rotated its keys), at most once per `refresh_seconds`, so a
  flood of made-up key ids cannot hammer the provider. A provider that cannot be reached while a token's key is not
  cached gives 503, not 401: the token may be good; a key already cached keeps working while the provider is down.

`require_roles(...)` admits a token with one of the given roles: 401 for a missing, malformed, expired, badly signed
token or one for another issuer or audience; 403 for a good token without the role; 503 when the provider's keys
cannot be had. Roles outside `ROLES` are ignored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

import httpx
import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.logging import get_logger
from shared.openapi import RETRY_AFTER_CONFIGURATION
from shared.settings import AuthSettings, url_is_secure

log = get_logger(__name__)

Role = Literal["duty_officer", "coordinator", "external_system", "admin"]
ROLES: tuple[Role, ...] = ("duty_officer", "coordinator", "external_system", "admin")
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    expires_at: float | None = field(default=None, compare=False)
    """When the token it came from stops being accepted (seconds since the epoch; None: not from a token)."""


@dataclass(frozen=True)
class JwtConfig:
    secret: str
    issuer: str
    audience: str


class IssuerUnavailable(Exception):
    """The identity provider's keys cannot be fetched (down, slow, or answering nonsense): 503, not 401."""


class TokenVerifier(Protocol):
    """What `require_roles` needs: a Principal from a token, or jwt.InvalidTokenError, or IssuerUnavailable."""

    @property
    def issuer(self) -> str: ...

    @property
    def audience(self) -> str: ...

    @property
    def algorithms(self) -> tuple[str, ...]: ...

    async def verify(self, token: str) -> Principal: ...


def known_roles(value: object) -> frozenset[str]:
    """The contract's roles among a roles claim's values: others are ignored; a claim that is not a list of
    strings makes the token invalid."""
    if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
        raise jwt.InvalidTokenError("roles claim must be a list of strings")
    return frozenset(value).intersection(ROLES)


def claim_at(claims: Mapping[str, Any], path: str) -> object:
    """The claim named `path`, or, when there is none, the value at its dotted path (`realm_access.roles`)."""
    if path in claims:
        return claims[path]
    value: object = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise jwt.MissingRequiredClaimError(path)
        value = value[part]
    return value


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
    return Principal(subject=str(claims["sub"]), roles=known_roles(claims.get("roles")), expires_at=claims["exp"])


@dataclass(frozen=True)
class LocalVerifier:
    """AUTH_MODE=local: HS256 with the shared secret (development and tests only)."""

    config: JwtConfig

    @property
    def issuer(self) -> str:
        return self.config.issuer

    @property
    def audience(self) -> str:
        return self.config.audience

    @property
    def algorithms(self) -> tuple[str, ...]:
        return (ALGORITHM,)

    async def verify(self, token: str) -> Principal:
        return verify_token(self.config, token)


Fetch = Callable[[str], Awaitable[Any]]
Clock = Callable[[], float]


async def fetch_json(url: str, *, timeout_seconds: float) -> Any:
    """GET a JSON document; any failure (connection, timeout, status, body) is IssuerUnavailable."""
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise IssuerUnavailable(f"{url}: {type(exc).__name__}") from exc


def parse_jwks(document: object) -> dict[str, jwt.PyJWK]:
    """Signing keys by key id. Keys for encryption, without a kid, or of a type PyJWT cannot use are left out."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise IssuerUnavailable("the key set is not a JWKS document")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or not isinstance(entry.get("kid"), str):
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
    return keys


@dataclass
class JwksCache:
    """The provider's signing keys, fetched on demand, replaced whole on each fetch (a key the provider dropped is
    dropped here too). An unknown key id triggers a fetch at most once per `refresh_seconds`; so does a key set older
    than `max_age_seconds`, which keeps serving if the provider is down then."""

    issuer: str
    jwks_uri: str = ""             # empty: the discovery document's jwks_uri
    refresh_seconds: float = 30.0
    max_age_seconds: float = 3600.0
    timeout_seconds: float = 5.0
    clock: Clock = time.monotonic
    fetch: Fetch | None = None     # default: fetch_json over HTTP
    fetches: int = 0               # key set fetches attempted (the tests and the logs read it)
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    _fetched_at: float | None = None
    _attempted_at: float | None = None
    _failed: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _get(self, url: str) -> Any:
        if self.fetch is not None:
            return await self.fetch(url)
        return await fetch_json(url, timeout_seconds=self.timeout_seconds)

    async def _discover(self) -> str:
        if self.jwks_uri:
            return self.jwks_uri
        document = await self._get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            raise IssuerUnavailable("the discovery document names another issuer (or none)")
        uri = document.get("jwks_uri")
        if not isinstance(uri, str) or not url_is_secure(uri):
            raise IssuerUnavailable("the discovery document has no https jwks_uri")
        self.jwks_uri = uri
        return uri

    async def _refresh(self) -> None:
        self.fetches += 1
        self._attempted_at = self.clock()
        try:
            keys = parse_jwks(await self._get(await self._discover()))
        except IssuerUnavailable as exc:
            self._failed = True
            log.warning("oidc_keys_unavailable", issuer=self.issuer, error=str(exc))
            raise
        self._failed = False
        self._keys = keys
        self._fetched_at = self.clock()
        log.info("oidc_keys_fetched", issuer=self.issuer, kids=sorted(keys))

    def _fresh(self) -> bool:
        return self._fetched_at is not None and self.clock() - self._fetched_at < self.max_age_seconds

    async def key(self, kid: str) -> jwt.PyJWK:
        """The key `kid` names; jwt.InvalidTokenError when the provider has none such; IssuerUnavailable when the
        provider cannot be asked and the key is not cached."""
        found = self._keys.get(kid)
        if found is not None and self._fresh():
            return found
        async with self._lock:  # one fetch at a time; those waiting see its result
            found = self._keys.get(kid)
            if found is not None and self._fresh():
                return found
            may_fetch = self._attempted_at is None or self.clock() - self._attempted_at >= self.refresh_seconds
            if may_fetch:
                try:
                    await self._refresh()
                except IssuerUnavailable:
                    if found is not None:  # a stale key still verifies while the provider is down
                        return found
                    raise
            found = self._keys.get(kid)
            if found is not None:
                return found
            if self._failed:
                raise IssuerUnavailable("the provider's keys could not be fetched")
            raise jwt.InvalidTokenError("unknown key id")


@dataclass
class OidcVerifier:
    """AUTH_MODE=oidc: the provider's asymmetric signatures, this service's audience, a bounded lifetime."""

    issuer: str
    audience: str
    keys: JwksCache
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    max_token_seconds: int = 3600
    roles_claim: str = "roles"
    leeway_seconds: int = 30

    async def verify(self, token: str) -> Principal:
        header = jwt.get_unverified_header(token)
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in self.algorithms:  # HS256, none and anything not configured: before any key is sought
            raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")
        if not isinstance(kid, str) or not kid:
            raise jwt.InvalidTokenError("the token names no key id")
        key = await self.keys.key(kid)
        if key.algorithm_name != algorithm:
            raise jwt.InvalidAlgorithmError("the token's algorithm is not its key's")
        claims = jwt.decode(
            token, key, algorithms=[algorithm], issuer=self.issuer, audience=self.audience, leeway=self.leeway_seconds,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        issued, expires = claims["iat"], claims["exp"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (issued, expires)):
            raise jwt.InvalidTokenError("iat and exp must be numbers")
        lifetime = expires - issued
        if lifetime > self.max_token_seconds:
            raise jwt.InvalidTokenError(f"token lifetime {lifetime}s exceeds {self.max_token_seconds}s")
        return Principal(subject=str(claims["sub"]), roles=known_roles(claim_at(claims, self.roles_claim)),
                         expires_at=expires + self.leeway_seconds)


@dataclass
class RememberedTokens:
    """A verifier that remembers the tokens it accepted, for at most `keep_seconds` and never past their expiry: an
    officer's client sends the same token with every request, and checking its signature costs 60 us (HS256) to
    a few hundred (RS256), a tenth of a report's handling. Refused tokens are checked again each time. A key
    withdrawn from the provider's key set stops being accepted at most `keep_seconds` later than without this."""

    inner: TokenVerifier
    keep_seconds: float = 60.0
    max_tokens: int = 10_000
    clock: Clock = time.time
    _accepted: dict[str, tuple[float, Principal]] = field(default_factory=dict, repr=False)

    @property
    def issuer(self) -> str:
        return self.inner.issuer

    @property
    def audience(self) -> str:
        return self.inner.audience

    @property
    def algorithms(self) -> tuple[str, ...]:
        return self.inner.algorithms

    async def verify(self, token: str) -> Principal:
        now = self.clock()
        remembered = self._accepted.get(token)
        if remembered is not None:
            until, principal = remembered
            if now < until:
                return principal
            del self._accepted[token]
        principal = await self.inner.verify(token)
        if principal.expires_at is not None:
            if len(self._accepted) >= self.max_tokens:
                self._forget_expired(now)
            self._accepted[token] = (min(principal.expires_at, now + self.keep_seconds), principal)
        return principal

    def _forget_expired(self, now: float) -> None:
        for token in [token for token, (until, _) in self._accepted.items() if until <= now]:
            del self._accepted[token]
        if len(self._accepted) >= self.max_tokens:  # all still valid: start again rather than grow
            self._accepted.clear()


def default_audience(service: str) -> str:
    """`consular-<service>`, with dashes: consular-intake, consular-directory, consular-crisis-center, ..."""
    return "consular-" + service.replace("_", "-")


def build_verifier(auth: AuthSettings, service: str) -> TokenVerifier:
    if auth.auth_mode == "local":
        return LocalVerifier(JwtConfig(auth.jwt_secret.get_secret_value(), auth.jwt_issuer, auth.jwt_audience))
    keys = JwksCache(issuer=auth.oidc_issuer, jwks_uri=auth.oidc_jwks_uri,
                     refresh_seconds=auth.oidc_jwks_refresh_seconds, timeout_seconds=auth.oidc_http_timeout_seconds)
    return OidcVerifier(issuer=auth.oidc_issuer, audience=auth.oidc_audience or default_audience(service), keys=keys,
                        algorithms=tuple(auth.oidc_algorithm_list()), max_token_seconds=auth.oidc_max_token_seconds,
                        roles_claim=auth.oidc_roles_claim, leeway_seconds=auth.oidc_leeway_seconds)


def install_verifier(app: FastAPI, verifier: TokenVerifier) -> None:
    """`app.state.token_verifier` checks tokens; `app.state.jwt_config` signs local sign-ins, None in oidc mode."""
    app.state.token_verifier = verifier
    app.state.remembered_tokens = RememberedTokens(verifier)
    app.state.jwt_config = verifier.config if isinstance(verifier, LocalVerifier) else None


def local_signing_config(request: Request) -> JwtConfig:
    """The key a local sign-in mints with; 503 in oidc mode, whose users sign in at the identity provider."""
    config = getattr(request.app.state, "jwt_config", None)
    if not isinstance(config, JwtConfig):
        verifier = getattr(request.app.state, "token_verifier", None)
        where = f" ({verifier.issuer})" if verifier is not None else ""
        raise HTTPException(503, "password sign-in is disabled (AUTH_MODE=oidc): sign in at the identity "
                                 f"provider{where} and use its access token", headers=RETRY_AFTER_CONFIGURATION)
    return config


_bearer = HTTPBearer(auto_error=False)
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def _verifier(request: Request) -> TokenVerifier:
    """The installed verifier, through the tokens it accepted lately (unless a test replaced it since)."""
    verifier = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise RuntimeError("app.state.token_verifier is not set: call shared.http.install_common")
    remembered = getattr(request.app.state, "remembered_tokens", None)
    if isinstance(remembered, RememberedTokens) and remembered.inner is verifier:
        return remembered
    return verifier  # type: ignore[no-any-return]


async def authenticate(request: Request, token: str) -> Principal:
    """The token's principal: 401 when it is not valid here, 503 when the provider's keys cannot be had."""
    try:
        return await _verifier(request).verify(token)
    except jwt.ExpiredSignatureError:
        raise HTTPException(401, "token expired", headers=_UNAUTHORIZED) from None
    except jwt.InvalidTokenError:
        raise HTTPException(401, "invalid token", headers=_UNAUTHORIZED) from None
    except IssuerUnavailable:
        raise HTTPException(503, "the identity provider's keys cannot be fetched; try again shortly",
                            headers={"Retry-After": "5"}) from None


def require_roles(*allowed: Role):  # type: ignore[no-untyped-def]
    """A dependency that admits a valid token carrying one of `allowed` roles: 401 otherwise, 403 wrong role."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(401, "missing bearer token", headers=_UNAUTHORIZED)
        principal = await authenticate(request, credentials.credentials)
        if not principal.roles.intersection(allowed):
            raise HTTPException(403, f"requires one of the roles {list(allowed)}")
        request.state.principal = principal
        return principal

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the route-table security test
    return dependency

