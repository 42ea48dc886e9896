"""Traffic at the door: limits a client can see (`limits`), the route table with timeouts and
a circuit breaker per service (`routing`, `breakers`), and forwarding that retries what is
safe to retry and streams answers back (`forwarding`)."""
