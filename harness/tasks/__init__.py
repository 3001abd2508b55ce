"""Built-in tasks, one folder per task family."""
