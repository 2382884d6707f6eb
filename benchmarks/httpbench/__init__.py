"""Helpers of http_bench.py: the model, the server processes, wrk, and the report."""
