"""Notifications: who hears about reports (rules.py), what is owed to whom
(deliveries.py), and how it is sent (channels.py); the tables are in models.py."""
