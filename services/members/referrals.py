"""Referrals (裂变): invite codes, referral chains, success, campaigns."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["referrals"])
