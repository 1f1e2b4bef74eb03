"""The bundled demo: synthetic outlets, feeds and articles served on 127.0.0.1."""
