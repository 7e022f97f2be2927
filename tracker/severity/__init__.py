"""Cosmetic, minor or substantive: judging a redline, with reasons a reader can check."""

from tracker.severity.model import SEVERITY_ORDER, Assessment, Severity
from tracker.severity.rules import assess

__all__ = ["SEVERITY_ORDER", "Assessment", "Severity", "assess"]
