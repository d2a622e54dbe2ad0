"""The report list's filter as CSV or JSON Lines, streamed."""
