"""Per-device API keys: who may publish for which device."""
