"""The scenario: its schema (every key users may write), the YAML loader and its errors."""
