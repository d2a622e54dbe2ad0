"""The desk's audit trail, for admins."""
