"""The draw itself, a pure function of its record: the seed, the eligible entrants (sorted,
each with how many prizes they may still win) and the prizes. Anyone holding the record can
run it again and get the same winners; a change to it is a new ALGORITHM version.

qunyun-draw-v1: a `random.Random` seeded with the seed string. Rounds go on while prizes are
left and someone has an allowance: each round shuffles the entrants still allowed, and each
in turn draws once among the prizes in stock by weight (and "nothing" by `blank_weight`);
every draw uses up one of the entrant's allowance, won or not.
"""

import random

from services.events.lotteries.models import Entrant, Prize, Winner

ALGORITHM = "qunyun-draw-v1"


def run_draw(
    *, seed: str, entrants: list[Entrant], prizes: list[Prize], blank_weight: float
) -> list[Winner]:
    rng = random.Random(seed)
    stock = {p.name: p.quantity for p in prizes}
    left = {e.member_id: e.allowance for e in sorted(entrants, key=lambda e: e.member_id)}
    winners: list[Winner] = []
    while any(stock.values()):
        round_ = [m for m, allowance in left.items() if allowance > 0]
        if not round_:
            break
        rng.shuffle(round_)
        for member_id in round_:
            available = [p for p in prizes if stock[p.name] > 0]
            if not available:
                break
            choices: list[Prize | None] = [*available, None]
            weights = [p.weight for p in available] + [blank_weight]
            pick = rng.choices(choices, weights=weights)[0]
            left[member_id] -= 1
            if pick is not None:
                stock[pick.name] -= 1
                winners.append(Winner(member_id=member_id, prize=pick.name))
    return winners
