"""Console tokens: JWT bearer tokens the operators' console gets from its sign-in service.

Checked here with no database: the signature (HS256 with a shared secret, or RS256 with the
issuer's public key, as configured; no other algorithm, `none` never), `iss`, `aud`, `exp`
and, when present, `nbf` and `iat`, each with a small leeway for clock skew. The claims:

- `sub`: who signed in (the console user); audit trails name them `user:<sub>`.
- `workspace_id`: the workspace the token acts in, as an API key's workspace.
- `scope`: the scopes, space-separated (RFC 9068), e.g. `"members:read content:write"`.
  Scopes this gateway does not know are ignored.

A verified token is remembered (by its hash) until it expires, so a console's calls after its
first cost a hash and a look-up, not a signature check (PyJWT takes about a millisecond for
HS256 on this machine). Refusals are not remembered.

A refused token is a 401 `invalid-token` problem whose `reason` says why: `expired`,
`not-yet-valid`, `wrong-audience`, `wrong-issuer`, `bad-signature`, `algorithm-refused`,
`missing-claim`, `invalid-claim`, `malformed`, `not-accepted` (no key configured).
"""

import base64
import binascii
import hashlib
import re
import threading
import time
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gateway.access.callers import Caller
from gateway.access.problems import InvalidToken
from gateway.access.scopes import known
from gateway.access.settings import ConsoleTokenSettings

# Bigger than any token a console sends; a bigger one is refused before decoding.
MAX_TOKEN_BYTES = 8192
_PRINTABLE_ALG = re.compile(r"^[A-Za-z0-9]{1,16}$")


def _header(token: str) -> dict[str, Any]:
    """The token's header, unverified: enough to refuse a wrong algorithm with a clear word."""
    segment = token.split(".", 1)[0]
    try:
        header = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise _refused("malformed", "The token is not a JWT.") from exc
    if not isinstance(header, dict):
        raise _refused("malformed", "The token is not a JWT.")
    return header


def looks_like_jwt(credential: str) -> bool:
    """A JWT is three dot-separated parts; API keys have no dots."""
    return credential.count(".") == 2


def _refused(reason: str, explanation: str) -> InvalidToken:
    return InvalidToken(reason=reason, explanation=explanation)


class ConsoleTokens:
    def __init__(self, settings: ConsoleTokenSettings, *, max_remembered: int = 10_000):
        self._remembered: dict[str, tuple[Caller, float]] = {}  # hash → (caller, expiry)
        self._max = max_remembered
        self._lock = threading.Lock()
        self.algorithm = settings.console_token_algorithm
        self.issuer = settings.console_token_issuer
        self.audience = settings.console_token_audience
        self.leeway = settings.console_token_leeway_seconds
        self._key: Any = None
        if self.algorithm == "HS256" and settings.console_token_secret is not None:
            self._key = settings.console_token_secret.get_secret_value().encode()
        elif self.algorithm == "RS256" and settings.console_token_public_key:
            # Parsed once, at start-up: a bad PEM stops the gateway rather than every call.
            pem = settings.console_token_public_key.replace("\\n", "\n")
            self._key = load_pem_public_key(pem.encode())

    @property
    def accepted(self) -> bool:
        return self._key is not None

    def caller(self, token: str) -> Caller:
        """The caller a valid token stands for; an `InvalidToken` problem saying why not."""
        if not self.accepted:
            raise _refused("not-accepted", "This gateway takes no console tokens; send an API key.")
        if len(token) > MAX_TOKEN_BYTES:
            raise _refused("malformed", f"The token is longer than {MAX_TOKEN_BYTES} bytes.")
        digest = hashlib.sha256(token.encode()).hexdigest()
        known = self._remembered.get(digest)
        if known is not None and time.time() < known[1] + self.leeway:
            return known[0]
        caller, expires = self._verify(token)
        with self._lock:
            if len(self._remembered) >= self._max:
                self._evict()
            self._remembered[digest] = (caller, expires)
        return caller

    def _evict(self) -> None:
        """Drop the expired tokens, or else the oldest remembered one."""
        now = time.time()
        expired = [d for d, (_, exp) in self._remembered.items() if now >= exp + self.leeway]
        for digest in expired or [next(iter(self._remembered))]:
            self._remembered.pop(digest, None)

    def _verify(self, token: str) -> tuple[Caller, float]:
        claims = self._verified_claims(token)
        subject, workspace_id, scope = (
            claims["sub"],
            claims.get("workspace_id"),
            claims.get("scope"),
        )
        if not isinstance(workspace_id, str) or not 0 < len(workspace_id) <= 200:
            raise _refused(
                "missing-claim" if workspace_id is None else "invalid-claim",
                "The token must carry `workspace_id`, the workspace it acts in.",
            )
        if not isinstance(scope, str | None):
            raise _refused("invalid-claim", "`scope` is a string of space-separated scopes.")
        if not isinstance(subject, str) or not 0 < len(subject) <= 200:
            raise _refused("invalid-claim", "`sub` must name the user, in at most 200 characters.")
        caller = Caller(
            key_id=subject,
            workspace_id=workspace_id,
            scopes=known((scope or "").split()),
            via="token",
        )
        return caller, float(claims["exp"])

    def _verified_claims(self, token: str) -> dict[str, Any]:
        alg = _header(token).get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise _refused("algorithm-refused", "Unsigned tokens (alg none) are refused.")
        if alg != self.algorithm:
            shown = alg if _PRINTABLE_ALG.match(alg) else "another algorithm"
            raise _refused(
                "algorithm-refused", f"Tokens here are signed with {self.algorithm}, not {shown}."
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _refused("expired", "The token has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise _refused("not-yet-valid", "The token is not valid yet (`nbf` or `iat`).") from exc
        except jwt.InvalidAudienceError as exc:
            raise _refused(
                "wrong-audience", f"The token is not meant for this API (`aud` {self.audience})."
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise _refused("wrong-issuer", f"The token was not issued by {self.issuer}.") from exc
        except jwt.InvalidSignatureError as exc:
            raise _refused("bad-signature", "The token's signature does not verify.") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise _refused("missing-claim", f"The token lacks the `{exc.claim}` claim.") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise _refused(
                "algorithm-refused", f"Tokens here are signed with {self.algorithm}."
            ) from exc
        except jwt.DecodeError as exc:
            raise _refused("malformed", "The token cannot be decoded.") from exc
        except jwt.InvalidTokenError as exc:
            # e.g. a non-numeric `exp`, or `iat` not an integer.
            raise _refused(
                "invalid-claim", "A registered claim of the token is not valid."
            ) from exc
        return claims
