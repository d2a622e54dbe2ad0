"""Where errors come from and how fast they are fixed: the stats page."""
