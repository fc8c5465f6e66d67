package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunFlags(t *testing.T) {
	noenv := func(string) string { return "" }
	for _, args := range [][]string{nil, {"-project", "p"}, {"-out", "x.csv"}} {
		var stderr bytes.Buffer
		err := run(context.Background(), args, noenv, &stderr)
		assert.ErrorContains(t, err, "-project (or GOOGLE_CLOUD_PROJECT) and -out are required", args)
	}
	err := run(context.Background(), []string{"-nope"}, noenv, &bytes.Buffer{})
	assert.ErrorContains(t, err, "flag provided but not defined")
}
