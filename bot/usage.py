"""/help: the commands, who may use them, and the challenge's limits."""

from __future__ import annotations

from arena import exitcodes
from bot.context import Bot
from bot.render import help_text
from bot.replies import Handler, Request, react, reply


def handle_help(bot: Bot, req: Request) -> int:
    react(bot, req)
    reply(bot, req, "here is what I understand.\n\n" + help_text(bot.challenge))
    return exitcodes.OK


COMMANDS: dict[str, Handler] = {"help": handle_help}
