"""The local tools that put the other packages together on one machine: `arena demo` (the whole
pipeline on a tiny model: the runner measures, the leaderboard ranks and builds the site) and
`arena init` (a new challenge repository, with the bot's labels and a checked prompt set). As a
composition of the others, it may import every package; nothing imports it."""
