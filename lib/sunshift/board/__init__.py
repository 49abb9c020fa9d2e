"""The board: its hardware seam and its LOAD/RUN/IDLE/CRASH loop.  Only boot.py and main.py import it."""
