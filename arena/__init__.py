"""arena: a GitHub-native bot and CI-driven leaderboard for LLM serving-speed challenges.

This package holds what every part shares: the challenge and submission contracts, the
validator, the result and verdict schemas, the results store and the `arena` command line.
"""

__version__ = "0.1.0"
