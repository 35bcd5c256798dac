"""Shared building blocks for the platform's code locations."""

from platform_common.environment import (
    Environment,
    current_environment,
    platform_resources,
    sensor_interval_seconds,
)
from platform_common.frames import DataFrame
from platform_common.objectstore import ObjectInfo, ObjectStore
from platform_common.parquet import ParquetIOManager
from platform_common.warehouse import Warehouse, WarehouseIOManager

__all__ = [
    "DataFrame",
    "Environment",
    "ObjectInfo",
    "ObjectStore",
    "ParquetIOManager",
    "Warehouse",
    "WarehouseIOManager",
    "current_environment",
    "platform_resources",
    "sensor_interval_seconds",
]
