"""Importers: each reads and validates first, then replaces one layer atomically."""
