"""Who may call the gateway, and what for: API keys with scopes, the console's JWT bearer
tokens, the scope each route needs, and `/v1/api-keys`.

- `scopes.py`: the scopes (the vocabulary); `callers.py`: who is calling and what they hold.
- `service.py` and `models.py`: API keys (stored hashed); `verdicts.py`: the keys confirmed
  recently, so the hot path asks no database.
- `tokens.py`: console tokens (JWT); `deps.py`: `CallerDep` and `require_scope(...)`.
- `routes.py`: the scope every route needs (proxied ones by owning service and method) and
  how the OpenAPI document says so; `views.py`: `/v1/api-keys`.
"""
