"""The forwarding benchmarks' settings for bench/spike.py, with the shared cache's keys under a prefix of the
run's own (``PW_BENCH_CACHE_PREFIX``): the spike's counters never meet another run's in a shared Redis."""

import os

from bench.forwarding_settings import *  # noqa: F403
from bench.forwarding_settings import CACHES

CACHES = {**CACHES, "default": {**CACHES["default"], "KEY_PREFIX": os.environ.get("PW_BENCH_CACHE_PREFIX", "")}}
