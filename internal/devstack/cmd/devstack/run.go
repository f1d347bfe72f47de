package main

import (
	"context"
	"errors"
)

func runStack(ctx context.Context, root string, cluster bool) error {
	return errors.New("not yet")
}
