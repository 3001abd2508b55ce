"""Model adapters for any task: hf, openai, replay and the steering wrapper (adapters that exist for one task family live in its folder)."""
