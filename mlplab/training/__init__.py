"""Training experiments into stored runs: the one place where the engine meets the store
(runner, sweeps, executors)."""
