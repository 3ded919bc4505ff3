"""`python -m voicebot ...`: the same as the `voicebot` command."""

from voicebot.cli import main

main()
