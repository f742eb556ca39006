"""Free-text comments: redaction, safeguarding flags, codebook coding, coder agreement,
topic suggestions, sentiment and theme tables (DESIGN.md section 5, "Free text").

Each module does one job and none imports Flask.
"""

from .redaction import WITHHELD, flag_safeguarding, redact, redact_series

__all__ = ["WITHHELD", "flag_safeguarding", "redact", "redact_series"]
