"""Request bodies at the gateway: refused past a size before they are read in full."""

from fastapi import Request

from services.common.http.problems import Problem


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
