"""The transform team's code location: dbt models and Python marts."""
