"""What every function shares on the AWS side: settings, the DCS connection, observability, SnapStart, errors, timing.

Each module loads only what it needs, and this package imports none of them: the summary function
reads the sweep's contract (``sweep``) without loading Powertools.
"""
