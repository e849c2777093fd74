"""Waiting on conditions with a deadline, shared by the conformance scripts (no bare sleeps)."""
import time


def until(condition, what, timeout=30.0, interval=0.1):
    """Polls condition() every `interval` seconds until it returns something truthy; fails naming
    `what` at the deadline."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)
