"""The GitHub side of arena: events, validation reports, commands, quotas, comments, check runs,
labels, dispatching benchmark runs and publishing results. It measures nothing."""
