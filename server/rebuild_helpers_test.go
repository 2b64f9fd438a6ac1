package server

import (
	"context"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/internal/datadir"
	"github.com/charter-dev/charter/registry"
)

// The data folder's rebuild and check, as `charter admin rebuild|check`
// run them (internal/datadir: registry and the catalog backends, no
// server), for the tests of this package.

// RebuildReport is catalog.RebuildReport.
type RebuildReport = catalog.RebuildReport

func options(cfg Config) datadir.Options {
	return datadir.Options{Logger: cfg.Logger, LogOrigin: cfg.LogOrigin, LogOptions: cfg.LogOptions}
}

// Rebuild recreates the data folder's catalog from its log and blobs.
func Rebuild(ctx context.Context, cfg Config) (RebuildReport, error) {
	return datadir.Rebuild(ctx, cfg.DataDir, "", options(cfg))
}

// CheckReport is registry.CheckReport.
type CheckReport = registry.CheckReport

// CheckCatalog compares the data folder's catalog with one rebuilt from
// its log and blobs.
func CheckCatalog(ctx context.Context, cfg Config) (*CheckReport, error) {
	return datadir.Check(ctx, cfg.DataDir, "", options(cfg))
}
