"""Moderation: assignment, spam blocks, deleting a report and erasing a submission."""
