"""aipair: one service catalog for the AI Pair platform, rendered to Compose and Kubernetes."""

__version__ = "0.1.0"
