"""The end-to-end test that private prompts never leave the runner or the bot."""
