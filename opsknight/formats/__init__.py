"""Date and time formats for the admin (FORMAT_MODULE_PATH), over Django's locale ones."""
