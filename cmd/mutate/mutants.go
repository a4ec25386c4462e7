package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A mutant is one single-point change of one file: the op'th site of
// operator Op in File, counted in source order.
type mutant struct {
	File string // path relative to the package directory
	Op   string
	N    int    // which site of Op in File
	Line int    // where, for the report
	What string // one line: what changed
}

// identity is what names m whatever the lines around it: its file, its
// operator and the change (the statement's text), not its line or site.
func (m mutant) identity() string { return m.File + "\x00" + m.Op + "\x00" + m.What }

func (m mutant) String() string {
	return fmt.Sprintf("%s:%d %s: %s", m.File, m.Line, m.Op, m.What)
}

// The operators, each a kind of bug the issue names.
const (
	opDropClose   = "drop-close"   // drop a Close()/closeConn/cancel()/release()/stop()/Unsubscribe() call
	opNoTimeout   = "no-timeout"   // context.WithTimeout(ctx, d) → context.WithCancel(ctx)
	opInvertCond  = "invert-cond"  // an if's comparison negated
	opConstant    = "constant"     // an integer literal n → n+1, or a 5xx status → 500/200
	opDropErr     = "drop-err"     // drop an `if err != nil { ...; return ... }`
	opSwap        = "swap"         // swap two adjacent statements (processor.go)
	opReturnEarly = "return-early" // a function without results returns at once
)

var operators = []string{opDropClose, opNoTimeout, opInvertCond, opConstant, opDropErr, opSwap, opReturnEarly}

// site is one place an operator applies, with how to apply it.
type site struct {
	line  int
	what  string
	apply func()
}

// sites walks f and returns, per operator, the places it applies, in
// source order. Applying one mutates f in place.
func sites(fset *token.FileSet, file string, f *ast.File, onlyVariant map[string]bool) map[string][]site {
	out := map[string][]site{}
	// Code that only a known-bad variant runs (the body of an `if
	// a.beh.X`, and a function that only such code refers to) is left
	// alone: changing it changes nothing in the good API the scenarios
	// run, so its mutants are equivalent by construction.
	variantOnly := behBodies(f)
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil && onlyVariant[fd.Name.Name] {
			variantOnly = append(variantOnly, [2]token.Pos{fd.Pos(), fd.End()})
		}
	}
	add := func(op string, pos token.Pos, what string, apply func()) {
		for _, r := range variantOnly {
			if pos >= r[0] && pos < r[1] {
				return
			}
		}
		out[op] = append(out[op], site{line: fset.Position(pos).Line, what: what, apply: apply})
	}
	src := func(n ast.Node) string {
		var b bytes.Buffer
		_ = printer.Fprint(&b, fset, n)
		s := strings.Join(strings.Fields(b.String()), " ")
		if len(s) > 70 {
			s = s[:67] + "..."
		}
		return s
	}
	// Statement lists: drops, swaps.
	lists := func(n ast.Node) *[]ast.Stmt {
		switch b := n.(type) {
		case *ast.BlockStmt:
			return &b.List
		case *ast.CaseClause:
			return &b.Body
		case *ast.CommClause:
			return &b.Body
		}
		return nil
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if fd, ok := n.(*ast.FuncDecl); ok && fd.Body != nil && (fd.Type.Results == nil || len(fd.Type.Results.List) == 0) && len(fd.Body.List) > 0 {
			body := fd.Body
			add(opReturnEarly, fd.Pos(), "func "+fd.Name.Name+" returns at once", func() {
				body.List = append([]ast.Stmt{&ast.ReturnStmt{}}, body.List...)
			})
		}
		list := lists(n)
		if list == nil {
			return true
		}
		for i := range *list {
			i := i
			st := (*list)[i]
			if isCloseCall(st) {
				add(opDropClose, st.Pos(), "drop "+src(st), func() { (*list)[i] = &ast.EmptyStmt{Implicit: true} })
			}
			if ifs, ok := st.(*ast.IfStmt); ok && isErrCheck(ifs) {
				add(opDropErr, st.Pos(), "drop "+src(ifs.Cond)+" { … return }", func() { (*list)[i] = &ast.EmptyStmt{Implicit: true} })
			}
			if filepath.Base(file) == "processor.go" && i+1 < len(*list) && swappable((*list)[i]) && swappable((*list)[i+1]) &&
				!behIf((*list)[i]) && !behIf((*list)[i+1]) {
				// (Moving a statement past an `if a.beh.X { … }` with no
				// else changes nothing in the good API: that if does
				// nothing there.)
				a, b := (*list)[i], (*list)[i+1]
				add(opSwap, st.Pos(), "swap "+src(a)+" ⇄ "+src(b), func() { (*list)[i], (*list)[i+1] = b, a })
			}
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.CallExpr:
			if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "WithTimeout" && isIdent(sel.X, "context") && len(x.Args) == 2 {
				add(opNoTimeout, x.Pos(), src(x)+" → context.WithCancel", func() {
					sel.Sel = ast.NewIdent("WithCancel")
					x.Args = x.Args[:1]
				})
			}
		case *ast.IfStmt:
			if be, ok := x.Cond.(*ast.BinaryExpr); ok {
				if neg, ok := negate[be.Op]; ok {
					add(opInvertCond, x.Pos(), fmt.Sprintf("if %s → %s", src(be), neg), func() { be.Op = neg })
				}
			}
		case *ast.BasicLit:
			if x.Kind == token.INT {
				v, err := strconv.ParseInt(x.Value, 0, 64)
				if err == nil {
					add(opConstant, x.Pos(), fmt.Sprintf("%s → %d", x.Value, v+1), func() { x.Value = strconv.FormatInt(v+1, 10) })
				}
			}
		case *ast.SelectorExpr:
			if isIdent(x.X, "http") && strings.HasPrefix(x.Sel.Name, "Status") {
				to := "StatusInternalServerError"
				if x.Sel.Name == to {
					to = "StatusOK"
				}
				if x.Sel.Name != "StatusOK" {
					add(opConstant, x.Pos(), "http."+x.Sel.Name+" → http."+to, func() { x.Sel = ast.NewIdent(to) })
				}
			}
		}
		return true
	})
	return out
}

// behBodies are the bodies of the `if x.beh.y` statements of f, and the
// whole of each `for …; x.beh.y && …; … { … }`: code only a known-bad
// variant runs (a loop's init and post too, as the loop never starts).
func behBodies(f *ast.File) [][2]token.Pos {
	var out [][2]token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.IfStmt:
			if requiresBeh(x.Cond) {
				out = append(out, [2]token.Pos{x.Pos(), x.Body.End()})
			}
		case *ast.ForStmt:
			if x.Cond != nil && requiresBeh(x.Cond) {
				out = append(out, [2]token.Pos{x.Pos(), x.End()})
			}
		}
		return true
	})
	return out
}

// behIf reports whether s is an `if x.beh.y { … }` with no else: a
// statement that does nothing in the good API.
func behIf(s ast.Stmt) bool {
	ifs, ok := s.(*ast.IfStmt)
	return ok && ifs.Else == nil && ifs.Init == nil && requiresBeh(ifs.Cond)
}

// requiresBeh reports whether e holds only when a variant switch is on:
// e is x.beh.y (or beh.y), or a conjunction with such a term. `if
// !a.beh.y` and `if a.beh.y || c` guard code the good API runs too.
func requiresBeh(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return requiresBeh(x.X)
	case *ast.BinaryExpr:
		return x.Op == token.LAND && (requiresBeh(x.X) || requiresBeh(x.Y))
	case *ast.SelectorExpr:
		switch in := x.X.(type) {
		case *ast.SelectorExpr:
			return in.Sel.Name == "beh"
		case *ast.Ident:
			return in.Name == "beh"
		}
	}
	return false
}

// variantOnlyFuncs names the functions and methods of the package files
// that only code a known-bad variant runs refers to: every reference to
// the name (a call, or a function value) sits inside an `if x.beh.y` body
// or inside another such function. Matching is by name, so a name also
// used anywhere else (another type's method of the same name) is kept:
// the set errs towards mutating.
func variantOnlyFuncs(files []*ast.File) map[string]bool {
	type ref struct {
		file int
		pos  token.Pos
		in   string // the function the reference sits in
	}
	declared := map[string]bool{}
	refs := map[string][]ref{}
	recv := map[string]string{} // method → its receiver's type
	lits := map[string][]ref{}  // type → where a value of it is built (T{...})
	beh := make([][][2]token.Pos, len(files))
	for i, f := range files {
		beh[i] = behBodies(f)
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			declared[fd.Name.Name] = true
			if fd.Recv != nil && len(fd.Recv.List) == 1 {
				t := fd.Recv.List[0].Type
				if st, ok := t.(*ast.StarExpr); ok {
					t = st.X
				}
				if id, ok := t.(*ast.Ident); ok {
					recv[fd.Name.Name] = id.Name
				}
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				var id *ast.Ident
				switch x := n.(type) {
				case *ast.CompositeLit:
					if t, ok := x.Type.(*ast.Ident); ok {
						lits[t.Name] = append(lits[t.Name], ref{file: i, pos: x.Pos(), in: fd.Name.Name})
					}
				case *ast.SelectorExpr:
					id = x.Sel
				case *ast.Ident:
					id = x
				}
				if id != nil {
					refs[id.Name] = append(refs[id.Name], ref{file: i, pos: id.Pos(), in: fd.Name.Name})
				}
				return true
			})
		}
	}
	only := map[string]bool{}
	// within: every one of rs sits in variant-only code (not counting
	// references from self, a function's own recursion).
	within := func(rs []ref, self string) bool {
		for _, r := range rs {
			inBeh := false
			for _, b := range beh[r.file] {
				if r.pos >= b[0] && r.pos < b[1] {
					inBeh = true
					break
				}
			}
			if !inBeh && r.in != self && !only[r.in] {
				return false
			}
		}
		return len(rs) > 0
	}
	for changed := true; changed; {
		changed = false
		for name := range declared {
			if only[name] {
				continue
			}
			// A method of a type that only variant-only code builds
			// runs only in that variant, whoever calls it.
			if t, ok := recv[name]; (ok && within(lits[t], "")) || within(refs[name], name) {
				only[name] = true
				changed = true
			}
		}
	}
	return only
}

var negate = map[token.Token]token.Token{
	token.EQL: token.NEQ, token.NEQ: token.EQL,
	token.LSS: token.GEQ, token.GEQ: token.LSS,
	token.GTR: token.LEQ, token.LEQ: token.GTR,
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// isCloseCall: a statement (or defer) that calls Close, closeConn, cancel,
// release, stop, Stop or Unsubscribe.
func isCloseCall(st ast.Stmt) bool {
	var call *ast.CallExpr
	switch s := st.(type) {
	case *ast.ExprStmt:
		call, _ = s.X.(*ast.CallExpr)
	case *ast.DeferStmt:
		call = s.Call
	}
	if call == nil {
		return false
	}
	name := ""
	switch fn := call.Fun.(type) {
	case *ast.Ident:
		name = fn.Name
	case *ast.SelectorExpr:
		name = fn.Sel.Name
	}
	switch name {
	case "Close", "closeConn", "cancel", "release", "stop", "Stop", "Unsubscribe", "Drain":
		return true
	}
	return false
}

// isErrCheck: `if err != nil { ... return ... }` without an else.
func isErrCheck(s *ast.IfStmt) bool {
	be, ok := s.Cond.(*ast.BinaryExpr)
	if !ok || be.Op != token.NEQ || !isIdent(be.X, "err") || !isIdent(be.Y, "nil") || s.Else != nil || s.Init != nil {
		return false
	}
	n := len(s.Body.List)
	if n == 0 {
		return false
	}
	_, ret := s.Body.List[n-1].(*ast.ReturnStmt)
	return ret
}

// swappable: a plain statement whose move keeps the code compiling more
// often than not (no declarations, no control flow that ends the block).
func swappable(s ast.Stmt) bool {
	switch x := s.(type) {
	case *ast.ExprStmt, *ast.IfStmt:
		return true
	case *ast.AssignStmt:
		return x.Tok != token.DEFINE
	}
	return false
}

// parseDir parses the package files of dir (not tests) and returns them
// with the names of its variant-only functions.
func parseDir(dir string) (*token.FileSet, []string, []*ast.File, map[string]bool, error) {
	names, err := goFiles(dir)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	fset := token.NewFileSet()
	files := make([]*ast.File, len(names))
	for i, name := range names {
		if files[i], err = parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("parse %s: %w", name, err)
		}
	}
	return fset, names, files, variantOnlyFuncs(files), nil
}

// enumerate lists every mutant of the package in dir (non-test files).
func enumerate(dir string) ([]mutant, error) {
	fset, names, files, only, err := parseDir(dir)
	if err != nil {
		return nil, err
	}
	var out []mutant
	for i, name := range names {
		ss := sites(fset, name, files[i], only)
		for _, op := range operators {
			for j, s := range ss[op] {
				out = append(out, mutant{File: name, Op: op, N: j, Line: s.line, What: s.what})
			}
		}
	}
	return out, nil
}

// render returns the source of dir/m.File with m applied.
func render(dir string, m mutant) ([]byte, error) {
	fset, names, files, only, err := parseDir(dir)
	if err != nil {
		return nil, err
	}
	var f *ast.File
	for i, name := range names {
		if name == m.File {
			f = files[i]
		}
	}
	if f == nil {
		return nil, fmt.Errorf("%s: no such file in %s", m.File, dir)
	}
	ss := sites(fset, m.File, f, only)[m.Op]
	if m.N >= len(ss) {
		return nil, fmt.Errorf("%s: no site %d of %s", m.File, m.N, m.Op)
	}
	ss[m.N].apply()
	var b bytes.Buffer
	if err := printer.Fprint(&b, fset, f); err != nil {
		return nil, fmt.Errorf("print %s: %w", m.File, err)
	}
	return b.Bytes(), nil
}

func goFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("no Go file in %s", dir)
	}
	return out, nil
}
