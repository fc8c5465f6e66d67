package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStepUpFaceSearch(t *testing.T) {
	base := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_API_KEY": "k"}
	tests := []struct {
		name    string
		env     map[string]string
		want    StepUp
		wantErr string
	}{
		{"off by default", nil, StepUp{FaceSearch: false, FaceSearchType: "blocklisted_or_approved", FaceSearchMinLevel: "high",
			MediaHosts: []string{"verification.didit.me"}}, ""},
		{"on, most similar, from critical, media hosts", map[string]string{"FACE_SEARCH": "true", "FACE_SEARCH_TYPE": "most_similar",
			"FACE_SEARCH_MIN_LEVEL": "critical", "DIDIT_MEDIA_HOSTS": "media.didit.example, cdn.example"},
			StepUp{FaceSearch: true, FaceSearchType: "most_similar", FaceSearchMinLevel: "critical", MediaHosts: []string{"media.didit.example", "cdn.example"}}, ""},
		{"simulator host", map[string]string{"DIDIT_API_URL": "http://127.0.0.1:8090"},
			StepUp{FaceSearchType: "blocklisted_or_approved", FaceSearchMinLevel: "high", MediaHosts: []string{"127.0.0.1:8090"}}, ""},
		{"bad type", map[string]string{"FACE_SEARCH_TYPE": "everything"}, StepUp{}, "FACE_SEARCH_TYPE"},
		{"bad level", map[string]string{"FACE_SEARCH_MIN_LEVEL": "severe"}, StepUp{}, "FACE_SEARCH_MIN_LEVEL"},
		{"bad flag", map[string]string{"FACE_SEARCH": "maybe"}, StepUp{}, "FACE_SEARCH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range base {
				m[k] = v
			}
			for k, v := range tt.env {
				m[k] = v
			}
			c, err := LoadStepUp(env(m))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want.FaceSearch, c.FaceSearch)
			assert.Equal(t, tt.want.FaceSearchType, c.FaceSearchType)
			assert.Equal(t, tt.want.FaceSearchMinLevel, c.FaceSearchMinLevel)
			assert.Equal(t, tt.want.MediaHosts, c.MediaHosts)
		})
	}
}
