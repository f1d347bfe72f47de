package main

import (
	"context"
	"os"

	"github.com/igdirect/bridge/internal/devstack"
)

func runStack(ctx context.Context, root string, cluster bool) error {
	return devstack.Run(ctx, devstack.RunOptions{Root: root, Cluster: cluster, Out: os.Stderr})
}
