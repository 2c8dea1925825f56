package histories

import (
	"fmt"
	"regexp"
)

// Version is the release in development: the folder that recordings add
// fixtures to. It moves to the next release's name once a release is cut,
// so the released folder is never written again.
const Version = "v0.1"

// Dir is the folder of the version folders, relative to the workflows
// package.
const Dir = "testdata/histories"

var (
	// versionPattern is what a version folder is named: v0.1, v1.2.3.
	versionPattern = regexp.MustCompile(`^v\d+\.\d+(\.\d+)?$`)
	// filePattern is what a fixture is named; its group is the workflow type.
	filePattern = regexp.MustCompile(`^([A-Z][A-Za-z]*)-([a-z0-9][a-z0-9-]*)\.json$`)
)

// CheckVersion reports whether name is a valid version folder name.
func CheckVersion(name string) error {
	if !versionPattern.MatchString(name) {
		return fmt.Errorf("version folder %q: want v<major>.<minor>[.<patch>], e.g. v0.1", name)
	}
	return nil
}

// FileName is the fixture file of a workflow type's case.
func FileName(workflowType, caseName string) string {
	return workflowType + "-" + caseName + ".json"
}

// WorkflowType is the workflow type a fixture file name says its history
// is of, or an error if the name is not <WorkflowType>-<case>.json.
func WorkflowType(fileName string) (string, error) {
	m := filePattern.FindStringSubmatch(fileName)
	if m == nil {
		return "", fmt.Errorf("fixture %q: want <WorkflowType>-<case>.json, the case in lower case letters, digits and '-'", fileName)
	}
	return m[1], nil
}
