"""Builds the grokking article: trains its models, renders prose and figures into site/."""
