"""Local kit: a faithful DCS emulator and seeded records, for tests, local runs and benchmarks."""
