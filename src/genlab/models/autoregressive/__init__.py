"""Model family package; its modules register themselves on import."""
