"""Add-ons that bring etam-plugin into editing programs ("hosts").

A host's own Python never imports torch: its add-on runs our command line (the Python
recorded at install time) as a subprocess and reads back the files it writes.
"""
