"""Results to output: plain text for the terminal, JSON for scripts, Block Kit for Slack."""
