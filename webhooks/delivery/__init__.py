"""The delivery pipeline: outbox (event → deliveries → wake-up) → worker (claim, send
through the transport, record, retry) → dispatcher (re-sends lost wake-ups)."""
