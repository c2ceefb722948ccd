"""cacscore: vessel-specific coronary artery calcium scoring from non-gated chest CT."""

__version__ = "0.1.0"
