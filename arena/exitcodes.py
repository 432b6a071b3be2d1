"""Exit codes of `arena` subcommands: they tell invalid input from broken infrastructure."""

OK = 0
INVALID = 1  # the input (a submission, a result) is invalid, or a run's verdict is invalid
USAGE = 2  # the command line is wrong, or a file it names cannot be read
INFRA = 3  # infrastructure failed: the engine crashed or hung, the network, the disk
NOTHING_MEASURED = 4  # the run ended without a measurement (verdict error)
