"""Shared building blocks for the platform's code locations."""

from platform_common.environment import Environment, current_environment, platform_resources
from platform_common.warehouse import Warehouse, WarehouseIOManager

__all__ = ["Environment", "Warehouse", "WarehouseIOManager", "current_environment", "platform_resources"]
