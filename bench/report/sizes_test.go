package report

import (
	"slices"
	"testing"
)

func TestParseSizes(t *testing.T) {
	tests := []struct {
		behaviour string
		in        string
		want      []string
	}{
		{"unset runs every size", "", []string{"S", "M", "L"}},
		{"one size runs alone", "S", []string{"S"}},
		{"sizes come smallest first, whatever the order given", "L, s", []string{"S", "L"}},
		{"unknown names are ignored", "S,XL", []string{"S"}},
		{"only unknown names run every size", "XL", []string{"S", "M", "L"}},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			if got := parseSizes(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("parseSizes(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestQuick(t *testing.T) {
	for in, want := range map[string]bool{"": false, "1": true, "true": true, "0": false, "false": false, "yes": false} {
		t.Run(in, func(t *testing.T) {
			t.Setenv(QuickEnv, in)
			if got := Quick(); got != want {
				t.Errorf("Quick() with %s=%q = %v, want %v", QuickEnv, in, got, want)
			}
		})
	}
}
