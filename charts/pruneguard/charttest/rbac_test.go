package charttest

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// permission is one (API group, resource, object name, verb) that a role grants; name is empty
// when the rule is not restricted by resourceNames.
type permission struct{ group, resource, name, verb string }

func (p permission) String() string {
	return fmt.Sprintf("%s %q/%s %s", p.verb, p.group, p.resource, p.name)
}

// documentedRow is one row of an RBAC table in README.md.
type documentedRow struct {
	perms []permission
	when  string
}

// readmeRBACTables parses the three RBAC tables of README.md, in order: serve's ClusterRole,
// serve's Role, and the prune job's ClusterRole. Placeholders in the Names column are replaced
// with this release's names.
func readmeRBACTables(t *testing.T) [][]documentedRow {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "## RBAC")
	end := strings.Index(text[start:], "\n## ")
	if start < 0 || end < 0 {
		t.Fatal("README.md has no RBAC section")
	}
	var tables [][]documentedRow
	var current []documentedRow
	for _, line := range strings.Split(text[start:start+end], "\n") {
		if !strings.HasPrefix(line, "| `") {
			if current != nil {
				tables, current = append(tables, current), nil
			}
			continue
		}
		current = append(current, parseRBACRow(t, line))
	}
	if current != nil {
		tables = append(tables, current)
	}
	if len(tables) != 3 {
		t.Fatalf("README.md RBAC section has %d tables, want 3", len(tables))
	}
	return tables
}

func parseRBACRow(t *testing.T, line string) documentedRow {
	t.Helper()
	cells := strings.Split(strings.Trim(line, "|"), "|")
	if len(cells) != 6 {
		t.Fatalf("README RBAC row has %d cells, want 6: %s", len(cells), line)
	}
	field := func(i int) string { return strings.Trim(strings.TrimSpace(cells[i]), "`") }
	group := strings.Trim(field(0), `"`)
	name := field(2)
	if name == "any" {
		name = ""
	}
	name = strings.ReplaceAll(name, "<fullname>", fullname)
	var row documentedRow
	row.when = field(4)
	for _, res := range splitList(field(1)) {
		for _, verb := range splitList(field(3)) {
			row.perms = append(row.perms, permission{group, res, name, verb})
		}
	}
	return row
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// applies reports whether a row's "When" holds for a variant.
func applies(t *testing.T, when string, v variant) bool {
	switch when {
	case "always":
		return true
	case "continuous", "cronjob":
		return mode(v) == when
	case "self-signed":
		return !certManager(v)
	}
	t.Fatalf("README RBAC row has an unknown When %q", when)
	return false
}

func expected(t *testing.T, rows []documentedRow, v variant) []permission {
	var out []permission
	for _, r := range rows {
		if applies(t, r.when, v) {
			out = append(out, r.perms...)
		}
	}
	return out
}

// granted expands a rendered role's rules into permissions; nonResourceURLs rules are refused,
// since none of these roles may have any.
func granted(t *testing.T, u *unstructured.Unstructured) []permission {
	t.Helper()
	var rules []rbacv1.PolicyRule
	if u.GetKind() == "Role" {
		var r rbacv1.Role
		decode(t, u, &r)
		rules = r.Rules
	} else {
		var r rbacv1.ClusterRole
		decode(t, u, &r)
		rules = r.Rules
	}
	var out []permission
	for _, rule := range rules {
		if len(rule.NonResourceURLs) > 0 {
			t.Errorf("%s %s grants non-resource URLs %v", u.GetKind(), u.GetName(), rule.NonResourceURLs)
		}
		names := rule.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				for _, n := range names {
					for _, verb := range rule.Verbs {
						out = append(out, permission{g, res, n, verb})
					}
				}
			}
		}
	}
	return out
}

// compareSets reports permissions granted but not documented, documented but not granted, and
// duplicates in either.
func compareSets(t *testing.T, what string, got, want []permission) {
	t.Helper()
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("%s: README documents %s, the chart does not grant it", what, p)
		}
	}
	seen := map[permission]bool{}
	for _, p := range got {
		if seen[p] {
			t.Errorf("%s: %s is granted twice", what, p)
		}
		seen[p] = true
		if !slices.Contains(want, p) {
			t.Errorf("%s: the chart grants %s, README does not document it", what, p)
		}
		if p.resource == "*" || p.verb == "*" || p.group == "*" {
			t.Errorf("%s: wildcard in %s", what, p)
		}
	}
}

func TestRBACGrantsExactlyWhatREADMEDocuments(t *testing.T) {
	tables := readmeRBACTables(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			objs := render(t, v)
			compareSets(t, "ClusterRole "+fullname,
				granted(t, mustFind(t, objs, "ClusterRole", fullname)), expected(t, tables[0], v))
			compareSets(t, "Role "+fullname,
				granted(t, mustFind(t, objs, "Role", fullname)), expected(t, tables[1], v))
			pruner := find(objs, "ClusterRole", fullname+"-pruner")
			if pruner == nil {
				if want := expected(t, tables[2], v); len(want) > 0 {
					t.Errorf("no ClusterRole %s-pruner, README documents %d permissions for it", fullname, len(want))
				}
				return
			}
			compareSets(t, "ClusterRole "+fullname+"-pruner", granted(t, pruner), expected(t, tables[2], v))
		})
	}
}

// Every role the chart renders is one of the documented ones, and every binding binds a
// rendered role to a rendered ServiceAccount of this release.
func TestEveryRoleIsDocumentedAndEveryBindingIsToThisRelease(t *testing.T) {
	documented := []string{fullname, fullname + "-pruner", fullname + "-metrics-reader"}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			objs := render(t, v)
			for _, u := range objs {
				switch u.GetKind() {
				case "ClusterRole", "Role":
					if !slices.Contains(documented, u.GetName()) {
						t.Errorf("undocumented %s %s", u.GetKind(), u.GetName())
					}
				case "ClusterRoleBinding", "RoleBinding":
					checkBinding(t, objs, u)
				}
			}
		})
	}
}

func checkBinding(t *testing.T, objs []*unstructured.Unstructured, u *unstructured.Unstructured) {
	t.Helper()
	var b rbacv1.RoleBinding // a ClusterRoleBinding has the same roleRef and subjects
	obj := u.DeepCopy()
	unstructured.RemoveNestedField(obj.Object, "metadata", "namespace")
	decode(t, obj, &b)
	if find(objs, b.RoleRef.Kind, b.RoleRef.Name) == nil {
		t.Errorf("%s %s binds %s %s, which the chart does not render", u.GetKind(), u.GetName(), b.RoleRef.Kind, b.RoleRef.Name)
	}
	for _, s := range b.Subjects {
		if s.Kind != "ServiceAccount" || s.Namespace != namespace || find(objs, "ServiceAccount", s.Name) == nil {
			t.Errorf("%s %s binds %+v, not a rendered ServiceAccount of this release", u.GetKind(), u.GetName(), s)
		}
	}
}
