"""Tests of backend/economics and the decide command."""
