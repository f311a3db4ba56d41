"""moodtagger: see how photos feel, filter by mood, write mood keywords into the files."""

__version__ = "0.1.0"
