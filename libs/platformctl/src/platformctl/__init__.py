"""The platform team's tooling (see __main__ for the commands)."""
