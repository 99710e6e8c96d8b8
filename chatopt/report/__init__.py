"""One result model for every run, and what turns it into files: compare, gate, md/html/json/junit."""
