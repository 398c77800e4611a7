"""Presenting stored runs: figures and self-contained HTML reports."""
