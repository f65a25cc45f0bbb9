"""Privacy operations: data-subject requests (find, export, erase a person's data) and retention."""
