"""Tabular benchmarks for query-based search (NAS-Bench-201 with its device latencies)."""
