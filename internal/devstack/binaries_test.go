package devstack

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// temporal-sql-tool reads each schema version's manifest.json to know what to apply: a
// build that copied only the .sql files could not set up the cluster's databases.
func TestServerSchemaCopyHasEveryVersionsManifest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	require.NoError(t, copyServerSchema(ctx, dir))
	versions, err := filepath.Glob(filepath.Join(dir, "schema", "postgresql", "v12", "*", "versioned", "v*"))
	require.NoError(t, err)
	require.NotEmpty(t, versions, "the versioned schema is copied")
	for _, v := range versions {
		_, err := os.Stat(filepath.Join(v, "manifest.json"))
		require.NoError(t, err, "%s has its manifest", v)
		sql, _ := filepath.Glob(filepath.Join(v, "*.sql"))
		require.NotEmpty(t, sql, "%s has its SQL", v)
	}
}
