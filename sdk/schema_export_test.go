package sdk

// SchemaWithDefaults exposes withDefaults to the external tests.
func SchemaWithDefaults(s Schema, v map[string]any) map[string]any { return s.withDefaults(v) }
