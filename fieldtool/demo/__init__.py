"""The offline demo world: rendered species, walks with GPS tracks, a small trained model."""
