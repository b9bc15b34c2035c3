"""What operators watch: the /ops/ page, /metrics for Prometheus, worker heartbeats."""
