package license

import _ "embed"

// CedarSchema is the Cedar schema (human-readable format) of the entities,
// actions and context that compiler version 1 produces. Every compiled
// policy set, entity set and request validates against it (tested with
// cedar-go's strict validator). It is published for other implementations;
// Decide does not need it.
//
//go:embed schema.cedarschema
var CedarSchema []byte
