"""Response generation: templates, retrieval responses and the neural generator."""
