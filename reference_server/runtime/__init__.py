"""What keeps the event loop free: lag monitor, CPU worker pool, bounded job queue."""
