"""Built-in plugin: NLU components (featurizers, classifiers, extractors, selectors)."""
