"""Outreach (私有化): friend-request tasks under a daily cap."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["outreach"])
