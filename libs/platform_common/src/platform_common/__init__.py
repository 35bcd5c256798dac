"""Shared building blocks for the platform's code locations."""

from platform_common.environment import (
    Environment,
    current_environment,
    landing_store_for,
    location_store_for,
    platform_resources,
    sensor_interval_seconds,
)
from platform_common.frames import DataFrame
from platform_common.objectstore import ObjectInfo, ObjectStore
from platform_common.parquet import ParquetIOManager
from platform_common.retries import RETRY_POLICY, is_transient, permanent_unless_transient
from platform_common.warehouse import Warehouse, WarehouseIOManager

__all__ = [
    "DataFrame",
    "Environment",
    "ObjectInfo",
    "ObjectStore",
    "ParquetIOManager",
    "RETRY_POLICY",
    "Warehouse",
    "WarehouseIOManager",
    "current_environment",
    "is_transient",
    "landing_store_for",
    "location_store_for",
    "permanent_unless_transient",
    "platform_resources",
    "sensor_interval_seconds",
]
