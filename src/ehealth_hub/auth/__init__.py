"""API client authentication: SMART App Launch 2.x backend services (client credentials with a
signed JWT client assertion, RFC 7523), hub-signed access tokens (RFC 9068 profile of JWT) and
SMART v2 scopes. ``ehealth_hub.api.auth`` turns this into FastAPI dependencies."""
