"""CI tooling: checks that `make test` runs besides the tests (the dependency audit)."""
