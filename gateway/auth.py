"""Who is calling: an API key scopes its holder to one workspace, within a rate limit."""

from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from gateway import keys
from gateway.settings import GatewaySettings
from services.common.http.problems import Problem


def authenticated(request: Request) -> keys.Caller:
    """The caller behind the bearer key, or a 401; a 429 past the key's rate limit."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401,
            "unauthorized",
            "Authentication required",
            "Send `Authorization: Bearer <api key>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with Session(request.app.state.engine) as session:
        caller = keys.authenticate(session=session, key=token.strip())
    if caller is None:
        raise Problem(
            401, "invalid-api-key", "Invalid API key", "The API key is unknown or revoked."
        )
    settings: GatewaySettings = request.app.state.settings
    wait = request.app.state.limiter.take(caller.key_id)
    if wait:
        raise Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"This API key is limited to {settings.rate_limit_per_second:g} requests a second.",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    return caller


CallerDep = Annotated[keys.Caller, Depends(authenticated)]


async def read_body(request: Request) -> bytes:
    """The raw body, refused before reading when it declares more than the limit."""
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    # The declared length refuses big bodies before reading them; the read length catches liars.
    if (declared.isdigit() and int(declared) > limit) or len(body := await request.body()) > limit:
        raise Problem(
            413, "payload-too-large", "Payload too large", f"Bodies are limited to {limit} bytes."
        )
    return body
