"""Community rules (群规) as numbered versions that members acknowledge."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["rules"])
