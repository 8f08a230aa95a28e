"""How label events change the read models (label standing in profiles and territories)."""
