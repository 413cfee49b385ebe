"""Crashes before reading anything."""
import os

partition = int(os.environ["PARTITON"])
