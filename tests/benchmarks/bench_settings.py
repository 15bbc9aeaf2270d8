"""The product's settings with the benchmark floors mounted (tests.benchmarks.floors):
`bench_api.py` runs gunicorn with these, so the floors and the real endpoint share one
process, middleware and database."""

from adminsite.settings import *  # noqa: F403 (the product's settings, unchanged)

ROOT_URLCONF = "tests.benchmarks.floors"
