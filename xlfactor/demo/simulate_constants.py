"""Seed and calendar of the demo simulation (kept apart so loading the demo stays light)."""

SEED = 20261121
LAST_DATE = "2026-10-30"
