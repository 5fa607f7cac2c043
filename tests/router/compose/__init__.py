"""Tests of the Federation 2 composer against Apollo-produced expectations."""
