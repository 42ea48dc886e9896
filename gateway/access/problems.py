"""What a caller is told when its credential does not let it in."""

from services.common.http.problems import ProblemType

# RFC 6750's challenge; `error_description` repeats the problem's detail.
REALM = 'Bearer realm="qunyun"'


class MissingScope(
    ProblemType,
    status=403,
    title="Missing scope",
    detail="This call needs the `{required_scope}` scope, which this credential does not hold.",
):
    required_scope: str
    granted_scopes: list[str]

    def response_headers(self) -> dict[str, str]:
        challenge = f'{REALM}, error="insufficient_scope", scope="{self.required_scope}"'
        return {"WWW-Authenticate": challenge}


class InvalidToken(ProblemType, status=401, title="Invalid token", detail="{explanation}"):
    """A console token (JWT) refused; `reason` is one of the words in `tokens.py`."""

    reason: str
    explanation: str

    def response_headers(self) -> dict[str, str]:
        # Header values are Latin-1: the explanation is ours, plain ASCII, without quotes.
        return {
            "WWW-Authenticate": f'{REALM}, error="invalid_token", '
            f'error_description="{self.explanation}"'
        }


class KeyRevoked(
    ProblemType,
    status=409,
    title="Key revoked",
    detail="{key_id} is revoked; create a new key instead.",
):
    key_id: str
