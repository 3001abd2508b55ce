"""Utilities shared by the tests and the bench scripts: tiny offline models, a loopback OpenAI-compatible server."""
