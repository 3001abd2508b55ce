"""Model adapters: hf, openai, replay, steering wrappers and the task-specific models."""
