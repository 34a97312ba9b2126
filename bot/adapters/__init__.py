"""Platform adapters for ``bot.dispatch`` beside the sandbox's (``bot.dispatch.SandboxAdapter``)."""
