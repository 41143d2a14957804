def load_bundled():
    return []
