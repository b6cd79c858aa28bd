package index

import "strings"

// Compact forms of the two longest strings of a reference, which an object record and each of
// its reverse entries hold: every created pod writes them three times, and bytes written are
// what the tracker's write path pays for (the write-ahead log, the memtable, the level-0
// table, compactions). Each value has exactly one encoding: the decoder rejects a verbatim
// form where a coded one applies.

// fieldPathPrefixes codes the container lists pkg/extract writes field paths in; a field path
// "<prefix>[<container>].image" is stored as the prefix's code alone. Append-only within a
// SchemaVersion.
var fieldPathPrefixes = []string{
	1: "spec.containers", 2: "spec.initContainers", 3: "spec.ephemeralContainers",
	4: "spec.template.spec.containers", 5: "spec.template.spec.initContainers",
	6: "spec.template.spec.ephemeralContainers",
	7: "spec.jobTemplate.spec.template.spec.containers",
	8: "spec.jobTemplate.spec.template.spec.initContainers",
	9: "spec.jobTemplate.spec.template.spec.ephemeralContainers",
}

var fieldPathCodes = indexStrings(fieldPathPrefixes)

// Field path forms beyond the coded prefixes.
const (
	fieldPathVerbatim  byte = 0    // str(path)
	fieldPathContainer byte = 0xFF // str(prefix): path is prefix + "[" + container + "].image"
)

// knownHosts codes the stored part of pull specs (rawForm) that is a whole registry host:
// OpenShift's internal registry, which most pods pull from, and the big public registries.
// Append-only within a SchemaVersion; at most 31 codes (they share a byte with the raw form).
var knownHosts = []string{
	1: "image-registry.openshift-image-registry.svc:5000",
	2: "docker-registry.default.svc:5000",
	3: "docker.io", 4: "quay.io", 5: "registry.redhat.io", 6: "registry.access.redhat.com",
	7: "gcr.io", 8: "ghcr.io", 9: "registry.k8s.io",
}

var knownHostCodes = indexStrings(knownHosts)

func indexStrings(table []string) map[string]byte {
	m := make(map[string]byte, len(table))
	for code, s := range table {
		if code > 0 {
			m[s] = byte(code)
		}
	}
	return m
}

// fieldPathForm returns the form of path for a reference of container and what it stores.
func fieldPathForm(path, container string) (byte, string) {
	if container == "" {
		return fieldPathVerbatim, path
	}
	list, ok := strings.CutSuffix(path, "].image")
	if ok {
		list, ok = strings.CutSuffix(list, container)
	}
	if ok {
		list, ok = strings.CutSuffix(list, "[")
	}
	if !ok {
		return fieldPathVerbatim, path
	}
	if code, ok := fieldPathCodes[list]; ok {
		return code, ""
	}
	return fieldPathContainer, list
}

// fieldPath writes a reference's field path; container must be written before it.
func (w recordWriter) fieldPath(path, container string) recordWriter {
	form, stored := fieldPathForm(path, container)
	w = w.u8(form)
	if form == fieldPathVerbatim || form == fieldPathContainer {
		w = w.str(stored)
	}
	return w
}

// fieldPath reads what fieldPath wrote for a reference of container.
func (r *recordReader) fieldPath(container string) string {
	form := r.u8()
	var path string
	switch {
	case form == fieldPathVerbatim:
		path = r.str()
	case form == fieldPathContainer:
		path = r.str() + "[" + container + "].image"
	case int(form) < len(fieldPathPrefixes) && container != "":
		path = fieldPathPrefixes[form] + "[" + container + "].image"
	default:
		r.bad = true
		return ""
	}
	if canonical, _ := fieldPathForm(path, container); canonical != form {
		r.bad = true // the encoder would have picked another form
	}
	return path
}

// rawHost writes form and the stored part of a pull spec in one byte when the stored part is
// a known host (its code in the high five bits), else form and str(stored).
func (w recordWriter) rawHost(form byte, stored string) recordWriter {
	if code, ok := knownHostCodes[stored]; ok {
		return w.u8(form | code<<3)
	}
	return w.u8(form).str(stored)
}

// rawHost reads what rawHost wrote.
func (r *recordReader) rawHost() (form byte, stored string) {
	b := r.u8()
	form, code := b&7, b>>3
	if code == 0 {
		stored = r.str()
		if _, known := knownHostCodes[stored]; known {
			r.bad = true
		}
		return form, stored
	}
	if int(code) >= len(knownHosts) {
		r.bad = true
		return form, ""
	}
	return form, knownHosts[code]
}
