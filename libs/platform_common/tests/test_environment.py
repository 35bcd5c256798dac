import dagster as dg
import pytest
from platform_common import sensor_interval_seconds


def test_sensor_interval_is_four_seconds_unless_set(monkeypatch):
    # Just under Dagster's 5 s sensor loop, so every wake-up of the loop is a tick.
    monkeypatch.delenv("PLATFORM_SENSOR_INTERVAL_SECONDS", raising=False)
    assert sensor_interval_seconds() == 4
    monkeypatch.setenv("PLATFORM_SENSOR_INTERVAL_SECONDS", "30")
    assert sensor_interval_seconds() == 30


@pytest.mark.parametrize("raw", ["thirty", "0", "-5", "1.5", "86401"])
def test_a_bad_sensor_interval_names_the_variable_and_value(monkeypatch, raw):
    monkeypatch.setenv("PLATFORM_SENSOR_INTERVAL_SECONDS", raw)
    with pytest.raises(dg.DagsterInvalidConfigError, match=f"PLATFORM_SENSOR_INTERVAL_SECONDS='{raw}'"):
        sensor_interval_seconds()
