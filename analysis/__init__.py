"""Improvement Pulse analysis: indicators, weighting, change, trend, reliability and
suppression from the app's export file. Depends on pandas/numpy/scipy/statsmodels and
``instruments``; never on Flask, so it runs on an analyst's laptop.

>>> import analysis
>>> results = analysis.run(analysis.read_responses("responses.csv"), "definitions/")
>>> results.indicators.head()
"""

from .pipeline import Results, run
from .responses import read_population, read_responses
from .suppression import suppress

__all__ = ["Results", "read_population", "read_responses", "run", "suppress"]
