import pytest

from reference_server.routing.cooldown import ModelCooldown
from reference_server.routing.prices import Price, PriceTable


def test_cost_from_usage_and_price_table():
    table = PriceTable()
    assert table.cost_usd("small", 1_000_000, 0) == pytest.approx(0.15)
    assert table.cost_usd("large", 1000, 500) == pytest.approx((1000 * 15 + 500 * 60) / 1e6)
    assert table.cost_usd("unknown-model", 1000, 0) == table.cost_usd("large", 1000, 0)
    assert PriceTable({"m": Price(1, 2)}).cost_usd("m", 10, 10) == pytest.approx(30 / 1e6)


def test_cooldown_rests_a_model_then_releases_it():
    now = [100.0]
    cooldown = ModelCooldown(cooldown_s=30, clock=lambda: now[0])
    assert cooldown.available("small")
    cooldown.trip("small")
    assert not cooldown.available("small") and cooldown.resting() == ["small"]
    now[0] += 29
    assert not cooldown.available("small")
    now[0] += 2
    assert cooldown.available("small")
    assert cooldown.trips["small"] == 1
