package charttest

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// passthrough values are Kubernetes objects handed to the API as they are; their inner keys are
// Kubernetes fields, documented by Kubernetes, so README and schema describe only the key itself.
var passthrough = []string{"resources", "podSecurityContext", "securityContext", "pruning.cronJob.resources",
	"grafanaDashboard.labels"}

// valuePaths returns the dotted path of every key in values.yaml, not descending into
// passthrough values.
func valuePaths(t *testing.T) []string {
	paths, _ := valuePathsAndLeaves(t)
	return paths
}

// valuePathsAndLeaves returns valuePaths and, of those, the ones that are not parents: the
// values a user sets (passthrough values count as leaves).
func valuePathsAndLeaves(t *testing.T) (paths, leaves []string) {
	t.Helper()
	data, err := os.ReadFile("../values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.UnmarshalStrict(data, &values); err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, v map[string]any)
	walk = func(prefix string, v map[string]any) {
		for k, child := range v {
			path := prefix + k
			paths = append(paths, path)
			if mp, ok := child.(map[string]any); ok && len(mp) > 0 && !slices.Contains(passthrough, path) {
				walk(path+".", mp)
				continue
			}
			leaves = append(leaves, path)
		}
	}
	walk("", values)
	sort.Strings(paths)
	sort.Strings(leaves)
	return paths, leaves
}

func TestREADMEDocumentsEveryValue(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	_, leaves := valuePathsAndLeaves(t)
	for _, path := range leaves {
		if !strings.Contains(readme, "`"+path+"`") {
			t.Errorf("README.md does not document `%s`", path)
		}
	}
}

// README must not document values that no longer exist either.
func TestREADMEValuesTableHasNoStaleKeys(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	paths := valuePaths(t)
	section := string(data)[strings.Index(string(data), "## Values"):]
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|")
	for _, match := range row.FindAllStringSubmatch(section, -1) {
		if !slices.Contains(paths, match[1]) {
			t.Errorf("README.md documents `%s`, which values.yaml does not have", match[1])
		}
	}
}

// Every key in values.yaml has a comment right above it (what, default, why), except parents
// whose children are each commented.
func TestEveryValueIsCommented(t *testing.T) {
	data, err := os.ReadFile("../values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	key := regexp.MustCompile(`^(\s*)([A-Za-z][A-Za-z0-9_]*):(.*)$`)
	type frame struct {
		indent int
		path   string
	}
	var stack []frame
	for i, line := range lines {
		match := key.FindStringSubmatch(line)
		if match == nil {
			continue
		}
		indent := len(match[1])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		path := match[2]
		if len(stack) > 0 {
			path = stack[len(stack)-1].path + "." + match[2]
		}
		stack = append(stack, frame{indent, path})
		if insidePassthrough(path) {
			continue
		}
		isParent := strings.TrimSpace(match[3]) == "" && i+1 < len(lines) && leadingSpaces(lines[i+1]) > indent &&
			!strings.HasPrefix(strings.TrimSpace(lines[i+1]), "-")
		if isParent && !slices.Contains(passthrough, path) {
			continue
		}
		if i == 0 || !strings.HasPrefix(strings.TrimSpace(lines[i-1]), "#") {
			t.Errorf("values.yaml line %d: `%s` has no comment above it", i+1, path)
		}
	}
}

func insidePassthrough(path string) bool {
	return slices.ContainsFunc(passthrough, func(p string) bool { return strings.HasPrefix(path, p+".") })
}

func leadingSpaces(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// values.schema.json describes exactly the keys of values.yaml, and refuses unknown keys at
// every level it describes.
func TestSchemaDescribesExactlyTheValues(t *testing.T) {
	data, err := os.ReadFile("../values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	var schemaPaths []string
	var walk func(prefix string, node map[string]any)
	walk = func(prefix string, node map[string]any) {
		props, ok := node["properties"].(map[string]any)
		if !ok {
			return
		}
		if node["additionalProperties"] != false {
			t.Errorf("schema object %q allows unknown keys", strings.TrimSuffix(prefix, "."))
		}
		for k, child := range props {
			path := prefix + k
			schemaPaths = append(schemaPaths, path)
			if c, ok := child.(map[string]any); ok && !slices.Contains(passthrough, path) {
				walk(path+".", c)
			}
		}
	}
	walk("", schema)
	values := valuePaths(t)
	for _, p := range values {
		if !slices.Contains(schemaPaths, p) {
			t.Errorf("values.schema.json does not describe `%s`", p)
		}
	}
	for _, p := range schemaPaths {
		if p != "global" && !slices.Contains(values, p) && !strings.HasPrefix(p, "certManager.issuerRef.") &&
			!strings.HasPrefix(p, "webhook.namespaceSelector.") && !strings.HasPrefix(p, "webhook.objectSelector.") {
			t.Errorf("values.schema.json describes `%s`, which values.yaml does not have", p)
		}
	}
}

// The metrics pruneguard exports (DESIGN.md, issue "Audit"); the dashboard must graph each one
// and nothing else.
var metrics = []string{
	"pruneguard_references", "pruneguard_pending_references", "pruneguard_images_pruned_total",
	"pruneguard_bytes_pruned_total", "pruneguard_prune_duration_seconds", "pruneguard_time_to_prune_seconds",
	"pruneguard_fences_active", "pruneguard_admissions_denied_total", "pruneguard_webhook_latency_seconds",
	"pruneguard_index_record_cache_lookups_total", "pruneguard_index_record_cache_bytes",
}

func TestDashboardGraphsEveryMetricAndOnlyKnownOnes(t *testing.T) {
	data, err := os.ReadFile("../files/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID         int `json:"id"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("files/dashboard.json is not valid JSON: %v", err)
	}
	name := regexp.MustCompile(`pruneguard_[a-z_]+`)
	used := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %d does not use the datasource variable", p.ID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %d has no query", p.ID)
		}
		for _, target := range p.Targets {
			for _, m := range name.FindAllString(target.Expr, -1) {
				m = strings.TrimSuffix(m, "_bucket")
				if !slices.Contains(metrics, m) {
					t.Errorf("panel %d queries unknown metric %s", p.ID, m)
				}
				used[m] = true
			}
		}
	}
	for _, m := range metrics {
		if !used[m] {
			t.Errorf("no panel graphs %s", m)
		}
	}
	if dash.UID == "" || len(dash.Templating.List) == 0 || dash.Templating.List[0].Name != "datasource" {
		t.Error("the dashboard needs a uid and a datasource variable first")
	}
}
