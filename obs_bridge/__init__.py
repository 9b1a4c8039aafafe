"""Live object masking on a webcam, fed into OBS Studio and driven over obs-websocket."""
