"""ensemblekit.ensembles."""
