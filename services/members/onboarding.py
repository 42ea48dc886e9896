"""Onboarding: the joining ritual and who has not finished it."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["onboarding"])
