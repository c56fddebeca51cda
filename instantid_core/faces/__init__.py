"""Faces in photos: detection, keypoints and embeddings (insightface antelopev2), and face selection."""
