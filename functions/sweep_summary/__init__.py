"""The fleet sweep's summary: one page of watches at a time added to the summary so far."""
