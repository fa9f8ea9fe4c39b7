"""Spreadsheet reporting: templates, reading .xlsx/.csv files, and turning their rows into events."""
