package documents

import (
	"embed"
	"sort"
	"strings"
)

// builtinFS holds the built-in documents, one <canonical name>.yaml each.
//
//go:embed *.yaml
var builtinFS embed.FS

// builtinAliases lets SSM users keep the names they know.
var builtinAliases = map[string]string{
	"AWS-RunShellScript":      "Stead-RunShellScript",
	"AWS-RunPowerShellScript": "Stead-RunPowerShellScript",
	"AWS-RunDocument":         "Stead-RunDocument",
	"AWS-DownloadContent":     "Stead-DownloadContent",
}

// BuiltinAliases returns the SSM names of the built-ins, sorted, each with its canonical
// name, for listings.
func BuiltinAliases() [][2]string {
	var out [][2]string
	for _, alias := range sortedKeys(builtinAliases) {
		out = append(out, [2]string{alias, builtinAliases[alias]})
	}
	return out
}

// Builtin returns a built-in document by its canonical name or its SSM alias
// (AWS-RunShellScript is Stead-RunShellScript), so that associations can name a document
// without storing it first. ok is false when there is no such built-in.
func Builtin(name string) (canonical string, content []byte, ok bool) {
	if alias, isAlias := builtinAliases[name]; isAlias {
		name = alias
	}
	if !contains(BuiltinNames(), name) {
		return "", nil, false
	}
	content, err := builtinFS.ReadFile(name + ".yaml")
	if err != nil {
		return "", nil, false
	}
	return name, content, true
}

// BuiltinNames lists the canonical names of the built-in documents, sorted, for listings
// and completion.
func BuiltinNames() []string {
	entries, _ := builtinFS.ReadDir(".") // the embedded root always exists
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}
