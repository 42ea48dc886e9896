"""Tags with categories, and bulk tagging."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["tags"])
