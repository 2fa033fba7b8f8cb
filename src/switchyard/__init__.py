"""Switchyard: a secure agent server for Dexto-format agents."""

__version__ = "0.1.0"
