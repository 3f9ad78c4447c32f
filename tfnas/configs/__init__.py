"""Every job's settings as a dataclass, checked without TensorFlow.

A binary fills one from its flags (a Python user from keyword arguments); ``validate()`` refuses a
bad value with one clear error naming the flag before TensorFlow is imported, data loaded or
anything written, so a typo costs a second, not a minute. The drivers in tfnas/methods and
tfnas/training take these configs (and re-export them under their old names).
"""
