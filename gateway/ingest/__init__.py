"""Bulk ingestion: bots and history imports post chat messages, joins and leaves by the
thousand; each batch goes to Kafka (`qunyun.ingest.messages.v1`) in one produce, each item is
answered accepted, duplicate or rejected."""
