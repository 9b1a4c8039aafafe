"""Package data (theme, icons); read with ``importlib.resources.files(__name__)``."""
