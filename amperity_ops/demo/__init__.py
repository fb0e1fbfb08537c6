"""Demo-only material: the demo policy file (policy.yaml) and the run starter (kickoff)."""
