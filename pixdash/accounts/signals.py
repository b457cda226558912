"""Signals for apps that build on accounts without accounts importing them."""

from django.dispatch import Signal

# Sent once a sign-up has created the user and their personal team: user=, team=.
user_signed_up = Signal()
