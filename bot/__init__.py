"""deploybot: a Slack chat-ops bot for deployment support."""
