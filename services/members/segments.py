"""Segments: saved rule-based selections of members, evaluated in SQL."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["segments"])
