"""HTTP interfaces: one blueprint per audience, the OpenAPI document, request context."""
