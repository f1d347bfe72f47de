// Package schema holds the numbered SQL migrations of the product's PostgreSQL database.
// They are embedded in both binaries and applied at start (see store.Migrate),
// with goose's session lock so a worker and an ingress starting together do not race.
package schema

import "embed"

// FS contains the *.sql migrations in goose format.
//
//go:embed *.sql
var FS embed.FS
