"""Helpers of app_bench.py: multi-process servers and a load client that counts every failure."""
