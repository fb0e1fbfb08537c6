"""Crash tests: real processes killed with SIGKILL, a store that goes away, a flaky sink."""
