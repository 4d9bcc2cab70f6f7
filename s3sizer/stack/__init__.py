"""The stack's lifecycle: what should exist (model), how to get there (plan), doing it (apply)."""
