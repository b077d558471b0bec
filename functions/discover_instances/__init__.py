"""Discover a project's DCS instances, one page of a fleet sweep at a time."""
