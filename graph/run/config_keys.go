package run

import (
	"reflect"
	"strings"
)

// addStructKeys records the yaml key paths of a struct value.
func addStructKeys(m map[string]string, prefix string, v any) {
	rv := reflect.ValueOf(v)
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		if f.Type.Kind() == reflect.Struct {
			m[key] = "section"
			addStructKeys(m, key, rv.Field(i).Interface())
			continue
		}
		m[key] = f.Type.Kind().String()
	}
}
