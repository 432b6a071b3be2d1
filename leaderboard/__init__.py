"""Pure functions from (submissions, results, verdicts) to the canonical ranking, the Pareto
front and the lineage tree, and the templates that render them as a static site, a JSON API and
a feed."""
