"""In-memory implementations of the port Protocols (fakes, not mocks)."""
