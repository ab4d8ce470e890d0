"""One router per resource family; each registers what it offers in the CapabilityStatement."""
