"""The support agents' web console (:mod:`voicebot.agents.console`) and its command
(:mod:`voicebot.cli.agents`)."""
