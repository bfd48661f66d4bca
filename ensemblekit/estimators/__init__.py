"""ensemblekit.estimators."""
