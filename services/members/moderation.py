"""Moderation: ad and abuse rules, violation cases, the strike ladder."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["moderation"])
