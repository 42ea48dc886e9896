"""Webhooks out: endpoints subscribe to the platform's events; a dispatcher process of its own
delivers them, signed the Standard Webhooks way, at least once, in order per community."""
