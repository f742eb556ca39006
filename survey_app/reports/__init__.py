"""The quarterly progress report, as one HTML page and a tagged PDF."""
