"""Inactivity pruning: policy, dry runs, prune runs."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["pruning"])
