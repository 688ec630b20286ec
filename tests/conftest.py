"""Makes the test-support packages under tests/ (`fakes`) importable from every test module."""
