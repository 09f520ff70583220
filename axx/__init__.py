"""The axx command line."""
