"""What the tests and the bench build: models, job files, fixtures."""
