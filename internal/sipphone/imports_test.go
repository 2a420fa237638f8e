package sipphone

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyTestsImportThePhone keeps the phone test-only: outside internal/,
// only _test.go files may import it (never app/, ari/, holdmusic/ or the
// ariapp command). The one exception is the benchmark command, a test
// instrument: its SIP mode drives hundreds of these phones, and a main
// package cannot be imported by anything that ships.
func TestOnlyTestsImportThePhone(t *testing.T) {
	const self = "github.com/ariapp/ariapp/internal/sipphone"
	root := filepath.Join("..", "..")
	instruments := map[string]bool{filepath.Join(root, "cmd", "ariapp-bench"): true}
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" ||
				path == filepath.Join(root, "internal")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || instruments[filepath.Dir(path)] {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return nil // someone else's file in flux; not this test's business
		}
		checked++
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == self {
				t.Errorf("%s imports %s: the lab phone is for tests only", path, self)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no Go files found above internal/sipphone")
	}
}
