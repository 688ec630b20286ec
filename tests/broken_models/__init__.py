"""Small HEAR modules, each breaking the API in one known way, for the validator tests."""
