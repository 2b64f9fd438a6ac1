package console_test

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

func TestPackageDoc(t *testing.T) {
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range pkgs {
		if strings.HasSuffix(name, "_test") {
			continue
		}
		doc := ""
		for _, f := range p.Files {
			if f.Doc != nil {
				doc += f.Doc.Text()
			}
		}
		if !strings.HasPrefix(doc, "Package "+name+" ") {
			t.Errorf("package %s has no doc comment", name)
		}
	}
}
