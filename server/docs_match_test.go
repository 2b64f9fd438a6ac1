package server

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// sourceFacts is what the server's source says each function can answer:
// the statuses and problem kinds it writes itself, and the functions of
// package server it calls.
type sourceFacts struct {
	statuses map[string]map[int]bool
	kinds    map[string]bool // every problem kind the package can send
	calls    map[string]map[string]bool
}

// statusCodes maps http.StatusXxx names to their codes.
func statusCodes() map[string]int {
	m := map[string]int{}
	for c := 100; c < 600; c++ {
		if t := http.StatusText(c); t != "" {
			m["Status"+strings.NewReplacer(" ", "", "-", "", "'", "").Replace(t)] = c
		}
	}
	m["StatusRequestEntityTooLarge"] = http.StatusRequestEntityTooLarge
	m["StatusRequestedRangeNotSatisfiable"] = http.StatusRequestedRangeNotSatisfiable
	return m
}

func readSource(t *testing.T) sourceFacts {
	t.Helper()
	codes := statusCodes()
	f := sourceFacts{statuses: map[string]map[int]bool{}, kinds: map[string]bool{}, calls: map[string]map[string]bool{}}
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*.go")
	status := func(e ast.Expr) (int, bool) {
		if sel, ok := e.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "http" {
				c, ok := codes[sel.Sel.Name]
				if !ok {
					t.Errorf("cannot resolve http.%s", sel.Sel.Name)
				}
				return c, ok
			}
		}
		return 0, false
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			fn := fd.Name.Name
			if f.statuses[fn] == nil {
				f.statuses[fn], f.calls[fn] = map[int]bool{}, map[string]bool{}
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					var callee string
					switch fun := n.Fun.(type) {
					case *ast.Ident:
						callee = fun.Name
					case *ast.SelectorExpr:
						// Only the server's own methods (s.foo): other
						// receivers' methods share names with unrelated
						// functions of the package.
						if x, ok := fun.X.(*ast.Ident); ok && x.Name == "s" {
							callee = fun.Sel.Name
						} else {
							callee = "." + fun.Sel.Name
						}
					}
					if !strings.HasPrefix(callee, ".") {
						f.calls[fn][callee] = true
					}
					callee = strings.TrimPrefix(callee, ".")
					switch {
					case callee == "errorf" && len(n.Args) >= 2:
						if c, ok := status(n.Args[0]); ok {
							f.statuses[fn][c] = true
						}
						if lit, ok := n.Args[1].(*ast.BasicLit); ok {
							k, _ := strconv.Unquote(lit.Value)
							f.kinds[k] = true
						}
					case (callee == "writeJSON" || callee == "WriteHeader") && len(n.Args) >= 1:
						arg := n.Args[0]
						if callee == "writeJSON" && len(n.Args) >= 2 {
							arg = n.Args[1]
						}
						if c, ok := status(arg); ok {
							f.statuses[fn][c] = true
						}
					}
				case *ast.CompositeLit:
					for _, el := range n.Elts {
						kv, ok := el.(*ast.KeyValueExpr)
						if !ok {
							continue
						}
						key, _ := kv.Key.(*ast.Ident)
						if key == nil {
							continue
						}
						switch key.Name {
						case "status", "Status":
							if c, ok := status(kv.Value); ok {
								f.statuses[fn][c] = true
							}
						case "kind":
							if lit, ok := kv.Value.(*ast.BasicLit); ok {
								k, _ := strconv.Unquote(lit.Value)
								f.kinds[k] = true
							}
						case "Type":
							if be, ok := kv.Value.(*ast.BinaryExpr); ok {
								if lit, ok := be.Y.(*ast.BasicLit); ok {
									k, _ := strconv.Unquote(lit.Value)
									f.kinds[k] = true
								}
							}
						}
					}
				}
				return true
			})
		}
	}
	return f
}

// reachable is every status fn and the package functions it calls
// (transitively) write. It over-approximates: a status some path of a
// helper can answer counts for every route that calls it.
func (f sourceFacts) reachable(fn string) map[int]bool {
	out := map[int]bool{}
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		if seen[n] || f.calls[n] == nil {
			return
		}
		seen[n] = true
		for c := range f.statuses[n] {
			out[c] = true
		}
		for c := range f.calls[n] {
			walk(c)
		}
	}
	walk(fn)
	return out
}

// TestDocsMatchBehaviour walks the route table: every problem kind the
// server's source can send is listed in docs/spec/http-api.md, every
// status a route's handler (and what it calls) writes is a response of its
// operation in openapi.json, and every operation has a summary, 4xx
// responses and, unless it is public, the signed-request security scheme.
// Routes added without their documents fail here.
func TestDocsMatchBehaviour(t *testing.T) {
	facts := readSource(t)
	spec, err := os.ReadFile("../docs/spec/http-api.md")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for k := range facts.kinds {
		if k != "" && !strings.Contains(string(spec), "| `"+k+"` |") {
			kinds = append(kinds, k)
		}
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		t.Errorf("problem type %q is sent but not listed in docs/spec/http-api.md (## Errors)", k)
	}

	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Components.SecuritySchemes["httpSignature"]; !ok {
		t.Error("openapi.json declares no httpSignature security scheme (RFC 9421 signed requests)")
	}
	s := &Server{}
	names := routeHandlerNames(t)
	for _, rt := range s.routeTable() {
		path := strings.ReplaceAll(rt.pattern, "...}", "}")
		raw, ok := doc.Paths[path][strings.ToLower(rt.method)]
		if !ok {
			continue // TestOpenAPIMatchesRoutes reports it
		}
		var op struct {
			Summary   string                     `json:"summary"`
			Responses map[string]json.RawMessage `json:"responses"`
		}
		json.Unmarshal(raw, &op)
		key := rt.method + " " + rt.pattern
		if op.Summary == "" {
			t.Errorf("%s: no summary in openapi.json", key)
		}
		has4xx := false
		for code := range op.Responses {
			if strings.HasPrefix(code, "4") {
				has4xx = true
			}
		}
		fn := names[key]
		if fn == "" {
			t.Errorf("%s: cannot find its handler in the route table's source", key)
			continue
		}
		var missing []string
		for c := range facts.reachable(fn) {
			if c >= 500 || c == http.StatusNotModified {
				continue // 500 internal and 503 busy are answered anywhere (http-api.md)
			}
			if _, ok := op.Responses[strconv.Itoa(c)]; !ok {
				missing = append(missing, strconv.Itoa(c))
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s (%s) can answer %v, not in its responses in openapi.json", key, fn, missing)
		}
		if !has4xx && !publicNo4xx[key] {
			t.Errorf("%s: no 4xx response in openapi.json", key)
		}
	}
}

// publicNo4xx are operations that answer no client error.
var publicNo4xx = map[string]bool{"GET /livez": true, "GET /readyz": true, "GET /metrics": true, "GET /openapi.json": true, "GET /healthz": true}

// routeHandlerNames reads the route table's source: pattern → handler
// method name.
func routeHandlerNames(t *testing.T) map[string]string {
	b, err := os.ReadFile("blobs.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`\{"([A-Z]+)", "([^"]+)", s\.(\w+)\}`).FindAllStringSubmatch(string(b), -1) {
		out[m[1]+" "+m[2]] = m[3]
	}
	return out
}
