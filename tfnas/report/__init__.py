"""Visual reports of runs: the found architecture drawn, curves, distributions, Pareto fronts (one HTML page)."""
