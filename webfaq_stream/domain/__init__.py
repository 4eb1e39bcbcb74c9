"""The domain: value types, ids and origins, WebFAQ's cleaning rules, language id, alignment maths and the pure batch pipeline. Imports no adapter."""
