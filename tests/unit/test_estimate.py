import pytest

from opentelemetry_instrumentation_databricks.cost.estimate import CONFIGURED_SIZE, DEFAULT_SIZE, compute_time
from opentelemetry_instrumentation_databricks.cost.rates import (
    WAREHOUSE_DBU_PER_HOUR,
    WarehouseShape,
    canonical_warehouse_size,
)
from opentelemetry_instrumentation_databricks.cost.warehouse_sizes import WarehouseSizes


def test_an_hour_of_a_small_warehouse_is_twelve_dbu():
    estimate = compute_time(3600, WAREHOUSE_DBU_PER_HOUR["Small"], 0.70, CONFIGURED_SIZE)
    assert estimate.dbu == pytest.approx(12.0)
    assert estimate.dollars == pytest.approx(8.40)


def test_estimate_scales_with_size_unlike_the_origin_notes_formula():
    small = compute_time(60, WAREHOUSE_DBU_PER_HOUR["Small"], 0.7, CONFIGURED_SIZE)
    large = compute_time(60, WAREHOUSE_DBU_PER_HOUR["Large"], 0.7, CONFIGURED_SIZE)
    assert large.dbu / small.dbu == pytest.approx(40 / 12)


def test_negative_durations_cost_nothing():
    assert compute_time(-1, 12, 0.7, DEFAULT_SIZE).dbu == 0


@pytest.mark.parametrize(("spelling", "size"), [("2x-small", "2X-Small"), ("SMALL", "Small"), ("x_large", "X-Large")])
def test_size_spellings(spelling, size):
    assert canonical_warehouse_size(spelling) == size


def test_configured_warehouse_uses_its_size_and_others_the_default():
    sizes = WarehouseSizes({"abc": WarehouseShape("Large", 2)}, "Small", lookup=False)
    assert sizes.rate("abc") == (80.0, CONFIGURED_SIZE)
    assert sizes.rate("other") == (12.0, DEFAULT_SIZE)
    assert sizes.rate(None) == (12.0, DEFAULT_SIZE)
