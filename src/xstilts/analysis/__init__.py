"""The statistics behind the report, independent of how it is rendered.

* :mod:`xstilts.analysis.stats`: correlation statistics, permutation tests, percentile intervals, the models with
  task effects (statsmodels) and the multiple-comparison corrections (pure functions on arrays);
* :mod:`xstilts.analysis.paired`: paired test examples from the per-example predictions and the hierarchical
  bootstrap over seeds and test examples.
"""
