"""ensemblekit.tuning."""
