"""`DataFrame` for asset signatures, without importing pandas with the definitions.

Dagster resolves an asset function's annotations when the definitions load, to
type its inputs and outputs, so `-> pd.DataFrame` imports pandas (0.4 s, about
40 MB) in every code server and every run worker, also for the runs that never
touch a frame. Type checkers see pandas' class; at run time the name is
`typing.Any`, and the IO managers check what they are given: both refuse
anything but a DataFrame.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pandas import DataFrame
else:
    DataFrame = Any

__all__ = ["DataFrame"]
