"""Search methods: the train steps (and discrete searchers) that turn a space into an architecture."""
