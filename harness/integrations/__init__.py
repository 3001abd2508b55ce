"""Bridges to the tools researchers already use (lm-eval); each needs its optional extra."""
