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
func sites(fset *token.FileSet, file string, f *ast.File) map[string][]site {
	out := map[string][]site{}
	// Code that only a known-bad variant runs (the body of an `if
	// a.beh.X`) is left alone: changing it changes nothing in the good
	// API the scenarios run, so its mutants are equivalent by construction.
	var variantOnly [][2]token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		if ifs, ok := n.(*ast.IfStmt); ok && mentionsBeh(ifs.Cond) {
			variantOnly = append(variantOnly, [2]token.Pos{ifs.Pos(), ifs.Body.End()})
		}
		return true
	})
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
			if filepath.Base(file) == "processor.go" && i+1 < len(*list) && swappable((*list)[i]) && swappable((*list)[i+1]) {
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

// mentionsBeh reports whether e reads a variant switch (x.beh.y).
func mentionsBeh(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if in, ok := sel.X.(*ast.SelectorExpr); ok && in.Sel.Name == "beh" {
				found = true
			}
		}
		return !found
	})
	return found
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

// enumerate lists every mutant of the package in dir (non-test files).
func enumerate(dir string) ([]mutant, error) {
	files, err := goFiles(dir)
	if err != nil {
		return nil, err
	}
	var out []mutant
	for _, name := range files {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		ss := sites(fset, name, f)
		for _, op := range operators {
			for i, s := range ss[op] {
				out = append(out, mutant{File: name, Op: op, N: i, Line: s.line, What: s.what})
			}
		}
	}
	return out, nil
}

// render returns the source of dir/m.File with m applied.
func render(dir string, m mutant) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(dir, m.File), nil, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", m.File, err)
	}
	ss := sites(fset, m.File, f)[m.Op]
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
