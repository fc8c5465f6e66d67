package failure

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestHTTPStatus(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name      string
		err       error
		status    int
		permanent bool
	}{
		{"nil", nil, http.StatusOK, false},
		{"plain", base, http.StatusInternalServerError, false},
		{"invalid", New(Invalid, base), http.StatusBadRequest, true},
		{"unauthorized", New(Unauthorized, base), http.StatusUnauthorized, true},
		{"too large", New(TooLarge, base), http.StatusRequestEntityTooLarge, true},
		{"method", New(MethodNotAllowed, base), http.StatusMethodNotAllowed, true},
		{"transient", New(Transient, base), http.StatusServiceUnavailable, false},
		{"wrapped keeps kind", fmt.Errorf("publish: %w", New(Transient, base)), http.StatusServiceUnavailable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.status, HTTPStatus(tt.err))
			assert.Equal(t, tt.permanent, Permanent(tt.err))
			if tt.err != nil {
				assert.ErrorIs(t, tt.err, base)
			}
		})
	}
}

func TestNewNil(t *testing.T) {
	assert.NoError(t, New(Invalid, nil))
	assert.Equal(t, "transient", Transient.String())
}
