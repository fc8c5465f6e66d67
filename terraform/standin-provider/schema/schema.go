// Package schema embeds the generated schema subset (google.json) that the
// stand-in provider serves. Regenerate it with ../gen-schema.sh.
package schema

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/riskwire/didit-risk/terraform/standin-provider/internal/tfschema"
)

//go:embed google.json
var googleJSON []byte

// Google returns the embedded hashicorp/google schema subset.
func Google() (*tfschema.File, error) {
	var f tfschema.File
	if err := json.Unmarshal(googleJSON, &f); err != nil {
		return nil, fmt.Errorf("embedded google.json: %w", err)
	}
	return &f, nil
}
