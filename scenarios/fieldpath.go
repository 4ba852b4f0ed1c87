package scenarios

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
)

// shapeError finds where a document departs from the shape of rawSpec: the
// first unknown field or wrongly typed value, with its full path (like
// faults[0].victims or faults[1].count), so that every parse error names
// its field. ok is false when the document matches (or is not YAML).
func shapeError(b []byte) (path, value, problem string, ok bool) {
	var doc any
	if err := yamlv3.Unmarshal(b, &doc); err != nil {
		return "", "", "", false
	}
	return walkShape(normalize(doc), reflect.TypeOf(rawSpec{}), "")
}

// normalize turns YAML's decoded values into JSON's shapes (numbers as
// float64, keys as strings); NaN and infinities stay, to be named.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	}
	return v
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps the JSON names of t's fields (embedded structs flattened)
// to their types.
func jsonFields(t reflect.Type, into map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			jsonFields(f.Type, into)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		into[name] = f.Type
	}
}

func walkShape(v any, t reflect.Type, path string) (string, string, string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return "", "", "", false
	}
	switch t.Kind() {
	case reflect.Interface:
		return "", "", "", false
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return path, fmt.Sprint(v), "want a mapping of fields", true
		}
		fields := map[string]reflect.Type{}
		jsonFields(t, fields)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, known := fields[k]
			if !known {
				return join(path, k), "", "unknown field", true
			}
			if p, val, prob, bad := walkShape(m[k], ft, join(path, k)); bad {
				return p, val, prob, true
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return path, fmt.Sprint(v), "want a mapping", true
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, val, prob, bad := walkShape(m[k], t.Elem(), join(path, k)); bad {
				return p, val, prob, true
			}
		}
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			return path, fmt.Sprint(v), "want a list", true
		}
		for i, e := range l {
			if p, val, prob, bad := walkShape(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); bad {
				return p, val, prob, true
			}
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return path, fmt.Sprint(v), "want a string (quote it)", true
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return path, fmt.Sprint(v), "want true or false", true
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
			return path, fmt.Sprint(v), "want a whole number", true
		}
	case reflect.Float64:
		f, ok := v.(float64)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return path, fmt.Sprint(v), "want a number", true
		}
	}
	return "", "", "", false
}
