package auditlog

import (
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestPackageDoc fails when the package loses its doc comment.
func TestPackageDoc(t *testing.T) {
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range pkgs["auditlog"].Files {
		if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package auditlog ") {
			return
		}
	}
	t.Fatal(`package auditlog has no doc comment starting "Package auditlog "`)
}
