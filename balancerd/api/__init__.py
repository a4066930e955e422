"""The control API: what ``balancerctl`` asks a running daemon over its Unix socket (HTTP)."""
