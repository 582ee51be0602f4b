"""What the processes tell their operators: logs in text or JSON."""
