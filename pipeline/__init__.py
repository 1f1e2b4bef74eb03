"""Newswire: feeds in, analysed and searchable stories out."""

from __future__ import annotations

__version__ = "0.1.0"
