"""Real loopback servers the test suite runs against (no mocks of the code under test)."""
