// Package clonetest checks that a clone method copies every map, slice and
// pointer of a value, so that a field added later without a matching line
// in the clone method fails a test.
package clonetest

import (
	"reflect"
	"testing"
)

// Check fills every exported field reachable from *v with a non-zero value
// (maps and slices with one element), clones it with clone, and reports
// every map, slice or pointer that the clone shares with the original.
func Check[T any](t *testing.T, name string, v *T, clone func(T) T) {
	t.Helper()
	Fill(reflect.ValueOf(v).Elem())
	NoAlias(t, name, reflect.ValueOf(*v), reflect.ValueOf(clone(*v)))
}

// Fill sets every settable exported field reachable from v to a non-zero
// value.
func Fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(1)
	case reflect.Uint8, reflect.Uint64:
		v.SetUint(1)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		Fill(s.Index(0))
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		Fill(k)
		Fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		Fill(p.Elem())
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				Fill(v.Field(i))
			}
		}
	}
}

// NoAlias reports, under path, every map, slice or pointer reachable from
// a through exported fields that b shares.
func NoAlias(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	switch a.Kind() {
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			t.Errorf("%s: clone shares the slice", path)
		}
		for i := range min(a.Len(), b.Len()) {
			NoAlias(t, path+"[i]", a.Index(i), b.Index(i))
		}
	case reflect.Map:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			t.Errorf("%s: clone shares the map", path)
		}
	case reflect.Pointer:
		if !a.IsNil() {
			if a.Pointer() == b.Pointer() {
				t.Errorf("%s: clone shares the pointer", path)
			}
			NoAlias(t, path, a.Elem(), b.Elem())
		}
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				NoAlias(t, path+"."+a.Type().Field(i).Name, a.Field(i), b.Field(i))
			}
		}
	}
}
