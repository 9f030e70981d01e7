"""Every citizen-facing notification's wording: the Jinja2 templates (`templates/<lang>/<template>.j2`) and their
renderer, read by the notifier (what it sends) and by intake (what a case's history records, and its letters)."""
