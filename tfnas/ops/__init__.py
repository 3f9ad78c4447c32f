"""Candidate layers shared by search spaces, supernets and child networks."""
