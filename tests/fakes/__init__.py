"""Real components that stand in for remote services in tests (local servers on 127.0.0.1 only)."""
