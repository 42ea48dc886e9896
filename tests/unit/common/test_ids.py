import re
import time

import pytest

from services.common import ids
from services.common.ids import new_id


def test_ids_carry_their_prefix_and_26_crockford_characters() -> None:
    assert re.fullmatch(r"cmt_[0-9A-HJKMNP-TV-Z]{26}", new_id("cmt"))


def test_ids_made_later_sort_later_so_keyset_pages_follow_creation_order() -> None:
    first = new_id("x")
    time.sleep(0.002)
    assert new_id("x") > first


def test_ids_made_in_one_millisecond_still_sort_in_the_order_they_were_made() -> None:
    made = [new_id("x") for _ in range(5000)]
    assert made == sorted(made)


def test_ids_do_not_repeat() -> None:
    assert len({new_id("x") for _ in range(10_000)}) == 10_000


def test_the_digits_are_the_value_in_crockford_base32_most_significant_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    for value in (0, 1, 31, 32, (1 << 128) - 1, 0x0194_F3A2_7C11_9D2E_44B0_8A61_5F03_C7D9):
        monkeypatch.setattr(ids, "_next_value", lambda value=value: value)
        digits = new_id("x").removeprefix("x_")
        assert len(digits) == 26
        decoded = 0
        for c in digits:
            decoded = decoded * 32 + crockford.index(c)
        assert decoded == value
