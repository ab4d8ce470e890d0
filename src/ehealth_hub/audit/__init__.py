"""The tamper-evident audit trail: AuditEvents in a hash chain, signed heads, verification."""
