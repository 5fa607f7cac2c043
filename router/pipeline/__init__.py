"""The router's one request pipeline: every transport runs the same stages over one typed
``PreparedOperation`` (see ``stages.py`` for their order)."""
