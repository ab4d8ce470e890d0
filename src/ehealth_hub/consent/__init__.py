"""The consent gate: access requests, a pure policy, and the gate that gathers facts and audits."""
